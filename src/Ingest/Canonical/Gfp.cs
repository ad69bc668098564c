namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// gfp flags in asitrace's canonical layout, independent of the kernel that produced the trace.
/// Bits 0–23 are the layout of Linux 5.1+ (the "shuffle GFP_* flags" layout, include/linux/gfp_types.h),
/// so a value decoded from a current kernel reads the same as the kernel's own number. Flags whose
/// kernel bit is configuration dependent, and flags of older kernels, get fixed bits above.
/// </summary>
[Flags]
public enum Gfp : ulong
{
    None = 0,
    Dma = 1UL << 0,
    Highmem = 1UL << 1,
    Dma32 = 1UL << 2,
    Movable = 1UL << 3,
    Reclaimable = 1UL << 4,
    High = 1UL << 5,
    Io = 1UL << 6,
    Fs = 1UL << 7,
    Zero = 1UL << 8,
    /// <summary>__GFP_ATOMIC, 4.4–6.2 (bit 9 of the 5.1 layout; unused since 6.3).</summary>
    Atomic = 1UL << 9,
    DirectReclaim = 1UL << 10,
    KswapdReclaim = 1UL << 11,
    Write = 1UL << 12,
    NoWarn = 1UL << 13,
    RetryMayfail = 1UL << 14,
    NoFail = 1UL << 15,
    NoRetry = 1UL << 16,
    Memalloc = 1UL << 17,
    Comp = 1UL << 18,
    NoMemalloc = 1UL << 19,
    Hardwall = 1UL << 20,
    ThisNode = 1UL << 21,
    Account = 1UL << 22,
    ZeroTags = 1UL << 23,
    // Configuration-dependent bits of 5.x/6.x kernels: fixed here, wherever the kernel put them.
    NoObjExt = 1UL << 24,
    SkipZero = 1UL << 25,
    SkipKasan = 1UL << 26,
    NoLockdep = 1UL << 27,
    SkipKasanUnpoison = 1UL << 28,
    SkipKasanPoison = 1UL << 29,
    /// <summary>__GFP_UNMAPPED (2026 "mm: Add __GFP_UNMAPPED" series).</summary>
    Unmapped = 1UL << 30,
    // Flags of older kernels.
    /// <summary>__GFP_WAIT, ≤ 4.3 (split into DIRECT_RECLAIM/KSWAPD_RECLAIM in 4.4).</summary>
    Wait = 1UL << 32,
    Cold = 1UL << 33,
    /// <summary>__GFP_REPEAT, ≤ 4.12 (became RETRY_MAYFAIL with a different meaning).</summary>
    Repeat = 1UL << 34,
    NoTrack = 1UL << 35,
    NoKswapd = 1UL << 36,
    OtherNode = 1UL << 37,
    Kmemcg = 1UL << 38,
    /// <summary>Bits the trace printed that no known flag name covers (the <c>|0x…</c> remainder).</summary>
    UnknownBits = 1UL << 63,
}

public static class GfpNames
{
    /// <summary>The single-flag names every era prints, with their canonical bit.</summary>
    public static readonly (string Name, Gfp Flag)[] Single =
    [
        ("__GFP_DMA", Gfp.Dma), ("__GFP_HIGHMEM", Gfp.Highmem), ("__GFP_DMA32", Gfp.Dma32),
        ("__GFP_MOVABLE", Gfp.Movable), ("__GFP_RECLAIMABLE", Gfp.Reclaimable), ("__GFP_HIGH", Gfp.High),
        ("__GFP_IO", Gfp.Io), ("__GFP_FS", Gfp.Fs), ("__GFP_ZERO", Gfp.Zero), ("__GFP_ATOMIC", Gfp.Atomic),
        ("__GFP_DIRECT_RECLAIM", Gfp.DirectReclaim), ("__GFP_KSWAPD_RECLAIM", Gfp.KswapdReclaim),
        ("__GFP_WRITE", Gfp.Write), ("__GFP_NOWARN", Gfp.NoWarn), ("__GFP_RETRY_MAYFAIL", Gfp.RetryMayfail),
        ("__GFP_NOFAIL", Gfp.NoFail), ("__GFP_NORETRY", Gfp.NoRetry), ("__GFP_MEMALLOC", Gfp.Memalloc),
        ("__GFP_COMP", Gfp.Comp), ("__GFP_NOMEMALLOC", Gfp.NoMemalloc), ("__GFP_HARDWALL", Gfp.Hardwall),
        ("__GFP_THISNODE", Gfp.ThisNode), ("__GFP_ACCOUNT", Gfp.Account), ("__GFP_ZEROTAGS", Gfp.ZeroTags),
        ("__GFP_NO_OBJ_EXT", Gfp.NoObjExt), ("__GFP_SKIP_ZERO", Gfp.SkipZero), ("__GFP_SKIP_KASAN", Gfp.SkipKasan),
        ("__GFP_NOLOCKDEP", Gfp.NoLockdep), ("__GFP_SKIP_KASAN_UNPOISON", Gfp.SkipKasanUnpoison),
        ("__GFP_SKIP_KASAN_POISON", Gfp.SkipKasanPoison), ("__GFP_UNMAPPED", Gfp.Unmapped),
        ("__GFP_WAIT", Gfp.Wait), ("__GFP_COLD", Gfp.Cold), ("__GFP_REPEAT", Gfp.Repeat),
        ("__GFP_NOTRACK", Gfp.NoTrack), ("__GFP_NO_KSWAPD", Gfp.NoKswapd), ("__GFP_OTHER_NODE", Gfp.OtherNode),
        ("__GFP_KMEMCG", Gfp.Kmemcg),
    ];

    public static bool TrySingle(ReadOnlySpan<char> name, out Gfp flag)
    {
        foreach (var (n, f) in Single)
        {
            if (name.SequenceEqual(n)) { flag = f; return true; }
        }
        flag = Gfp.None;
        return false;
    }

    /// <summary>Renders a canonical value as <c>__GFP_A|__GFP_B</c> (single names only; <c>none</c> for 0).</summary>
    public static string Format(ulong gfp)
    {
        if (gfp == 0) return "none";
        var sb = new System.Text.StringBuilder();
        foreach (var (n, f) in Single)
        {
            if ((gfp & (ulong)f) != 0)
            {
                if (sb.Length > 0) sb.Append('|');
                sb.Append(n);
                gfp &= ~(ulong)f;
            }
        }
        if (gfp != 0) { if (sb.Length > 0) sb.Append('|'); sb.Append("0x").Append(gfp.ToString("x")); }
        return sb.ToString();
    }
}
