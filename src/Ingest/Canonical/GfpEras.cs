namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// Built-in gfp tables per kernel era (docs/formats.md §4), used only when the trace carries no format
/// description of its own. Masks are the kernel's values in that era; composites are listed first, as the
/// kernel's <c>__def_gfpflag_names</c> does. The era boundaries come from the patches that moved the bits:
/// 4.4 (__GFP_WAIT split into DIRECT/KSWAPD_RECLAIM), 4.10 (__GFP_OTHER_NODE removed), 4.15 (COLD/NOTRACK
/// removed, bits compacted), 5.1 ("mm: shuffle GFP_* flags"), 6.3 (__GFP_ATOMIC removed), 6.18 (GFP_NOWAIT
/// gained __GFP_NOWARN).
/// </summary>
public static class GfpEras
{
    public static readonly string[] Names = ["2.6.33-4.3", "4.4-4.9", "4.10-4.14", "4.15-5.0", "5.1-6.2", "6.3-6.17", "6.18+"];
    public const string Latest = "6.18+";

    /// <summary>Picks the era of a kernel release such as <c>6.18.44-fc</c> or <c>4.19.0-27-amd64</c>.</summary>
    public static string ForRelease(string? release)
    {
        if (release is null || !TryMajorMinor(release, out int major, out int minor)) return Latest;
        int v = major * 1000 + minor;
        return v switch
        {
            < 4004 => "2.6.33-4.3",
            < 4010 => "4.4-4.9",
            < 4015 => "4.10-4.14",
            < 5001 => "4.15-5.0",
            < 6003 => "5.1-6.2",
            < 6018 => "6.3-6.17",
            _ => "6.18+",
        };
    }

    public static bool TryMajorMinor(string release, out int major, out int minor)
    {
        major = minor = 0;
        var parts = release.Trim().Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], out major)) return false;
        int n = 0;
        while (n < parts[1].Length && char.IsDigit(parts[1][n])) n++;
        return n > 0 && int.TryParse(parts[1].AsSpan(0, n), out minor);
    }

    static readonly Dictionary<string, GfpTable> Cache = new();

    public static GfpTable Table(string era)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(era, out var t)) Cache[era] = t = new GfpTable("builtin:" + era, Build(era));
            return t;
        }
    }

    static List<(string, ulong)> Build(string era)
    {
        var single = era switch
        {
            "2.6.33-4.3" => Bits(("__GFP_DMA", 0), ("__GFP_HIGHMEM", 1), ("__GFP_DMA32", 2), ("__GFP_MOVABLE", 3), ("__GFP_WAIT", 4),
                ("__GFP_HIGH", 5), ("__GFP_IO", 6), ("__GFP_FS", 7), ("__GFP_COLD", 8), ("__GFP_NOWARN", 9), ("__GFP_REPEAT", 10),
                ("__GFP_NOFAIL", 11), ("__GFP_NORETRY", 12), ("__GFP_MEMALLOC", 13), ("__GFP_COMP", 14), ("__GFP_ZERO", 15),
                ("__GFP_NOMEMALLOC", 16), ("__GFP_HARDWALL", 17), ("__GFP_THISNODE", 18), ("__GFP_RECLAIMABLE", 19),
                ("__GFP_KMEMCG", 20), ("__GFP_NOTRACK", 21), ("__GFP_NO_KSWAPD", 22), ("__GFP_OTHER_NODE", 23), ("__GFP_WRITE", 24)),
            "4.4-4.9" => Bits(("__GFP_DMA", 0), ("__GFP_HIGHMEM", 1), ("__GFP_DMA32", 2), ("__GFP_MOVABLE", 3), ("__GFP_RECLAIMABLE", 4),
                ("__GFP_HIGH", 5), ("__GFP_IO", 6), ("__GFP_FS", 7), ("__GFP_COLD", 8), ("__GFP_NOWARN", 9), ("__GFP_REPEAT", 10),
                ("__GFP_NOFAIL", 11), ("__GFP_NORETRY", 12), ("__GFP_MEMALLOC", 13), ("__GFP_COMP", 14), ("__GFP_ZERO", 15),
                ("__GFP_NOMEMALLOC", 16), ("__GFP_HARDWALL", 17), ("__GFP_THISNODE", 18), ("__GFP_ATOMIC", 19), ("__GFP_ACCOUNT", 20),
                ("__GFP_NOTRACK", 21), ("__GFP_DIRECT_RECLAIM", 22), ("__GFP_OTHER_NODE", 23), ("__GFP_WRITE", 24), ("__GFP_KSWAPD_RECLAIM", 25)),
            "4.10-4.14" => Bits(("__GFP_DMA", 0), ("__GFP_HIGHMEM", 1), ("__GFP_DMA32", 2), ("__GFP_MOVABLE", 3), ("__GFP_RECLAIMABLE", 4),
                ("__GFP_HIGH", 5), ("__GFP_IO", 6), ("__GFP_FS", 7), ("__GFP_COLD", 8), ("__GFP_NOWARN", 9), ("__GFP_RETRY_MAYFAIL", 10),
                ("__GFP_REPEAT", 10), ("__GFP_NOFAIL", 11), ("__GFP_NORETRY", 12), ("__GFP_MEMALLOC", 13), ("__GFP_COMP", 14), ("__GFP_ZERO", 15),
                ("__GFP_NOMEMALLOC", 16), ("__GFP_HARDWALL", 17), ("__GFP_THISNODE", 18), ("__GFP_ATOMIC", 19), ("__GFP_ACCOUNT", 20),
                ("__GFP_NOTRACK", 21), ("__GFP_DIRECT_RECLAIM", 22), ("__GFP_WRITE", 23), ("__GFP_KSWAPD_RECLAIM", 24)),
            "4.15-5.0" => Bits(("__GFP_DMA", 0), ("__GFP_HIGHMEM", 1), ("__GFP_DMA32", 2), ("__GFP_MOVABLE", 3), ("__GFP_RECLAIMABLE", 4),
                ("__GFP_HIGH", 5), ("__GFP_IO", 6), ("__GFP_FS", 7), ("__GFP_WRITE", 8), ("__GFP_NOWARN", 9), ("__GFP_RETRY_MAYFAIL", 10),
                ("__GFP_NOFAIL", 11), ("__GFP_NORETRY", 12), ("__GFP_MEMALLOC", 13), ("__GFP_COMP", 14), ("__GFP_ZERO", 15),
                ("__GFP_NOMEMALLOC", 16), ("__GFP_HARDWALL", 17), ("__GFP_THISNODE", 18), ("__GFP_ATOMIC", 19), ("__GFP_ACCOUNT", 20),
                ("__GFP_DIRECT_RECLAIM", 21), ("__GFP_KSWAPD_RECLAIM", 22), ("__GFP_NOLOCKDEP", 23)),
            _ => Modern(era),
        };
        ulong M(string name) { foreach (var (n, m) in single) if (n == name) return m; return 0; }
        bool pre44 = era == "2.6.33-4.3";
        ulong reclaim = pre44 ? M("__GFP_WAIT") : M("__GFP_DIRECT_RECLAIM") | M("__GFP_KSWAPD_RECLAIM");
        ulong kernel = reclaim | M("__GFP_IO") | M("__GFP_FS");
        ulong user = kernel | M("__GFP_HARDWALL");
        ulong highuser = user | M("__GFP_HIGHMEM");
        ulong movable = highuser | M("__GFP_MOVABLE");
        ulong atomic = pre44 ? M("__GFP_HIGH") : M("__GFP_HIGH") | M("__GFP_ATOMIC") | M("__GFP_KSWAPD_RECLAIM");
        ulong nowait = pre44 ? 0 : M("__GFP_KSWAPD_RECLAIM") | (era == "6.18+" ? M("__GFP_NOWARN") : 0);
        var composites = new List<(string, ulong)>();
        if (pre44)
        {
            composites.Add(("GFP_TRANSHUGE", movable | M("__GFP_COMP") | M("__GFP_NOMEMALLOC") | M("__GFP_NORETRY") | M("__GFP_NOWARN") | M("__GFP_NO_KSWAPD")));
        }
        else
        {
            ulong light = (movable | M("__GFP_COMP") | M("__GFP_NOMEMALLOC") | M("__GFP_NOWARN")) & ~reclaim;
            composites.Add(("GFP_TRANSHUGE", light | M("__GFP_DIRECT_RECLAIM")));
            composites.Add(("GFP_TRANSHUGE_LIGHT", light));
        }
        composites.Add(("GFP_HIGHUSER_MOVABLE", movable));
        composites.Add(("GFP_HIGHUSER", highuser));
        composites.Add(("GFP_USER", user));
        if (!pre44) composites.Add(("GFP_KERNEL_ACCOUNT", kernel | M("__GFP_ACCOUNT")));
        if (era is "2.6.33-4.3" or "4.4-4.9" or "4.10-4.14") composites.Add(("GFP_TEMPORARY", kernel | M("__GFP_RECLAIMABLE")));
        composites.Add(("GFP_KERNEL", kernel));
        composites.Add(("GFP_NOFS", reclaim | M("__GFP_IO")));
        composites.Add(("GFP_ATOMIC", atomic));
        composites.Add(("GFP_NOIO", reclaim));
        if (nowait != 0) composites.Add(("GFP_NOWAIT", nowait));
        if (pre44) composites.Add(("GFP_IOFS", M("__GFP_IO") | M("__GFP_FS")));
        composites.Add(("GFP_DMA", M("__GFP_DMA")));
        composites.Add(("GFP_DMA32", M("__GFP_DMA32")));
        if (!pre44) composites.Add(("__GFP_RECLAIM", reclaim));
        composites.AddRange(single);
        return composites;
    }

    static List<(string, ulong)> Modern(string era)
    {
        var l = Bits(("__GFP_DMA", 0), ("__GFP_HIGHMEM", 1), ("__GFP_DMA32", 2), ("__GFP_MOVABLE", 3), ("__GFP_RECLAIMABLE", 4),
            ("__GFP_HIGH", 5), ("__GFP_IO", 6), ("__GFP_FS", 7), ("__GFP_ZERO", 8));
        if (era == "5.1-6.2") l.Add(("__GFP_ATOMIC", 1UL << 9));
        l.AddRange(Bits(("__GFP_DIRECT_RECLAIM", 10), ("__GFP_KSWAPD_RECLAIM", 11), ("__GFP_WRITE", 12), ("__GFP_NOWARN", 13),
            ("__GFP_RETRY_MAYFAIL", 14), ("__GFP_NOFAIL", 15), ("__GFP_NORETRY", 16), ("__GFP_MEMALLOC", 17), ("__GFP_COMP", 18),
            ("__GFP_NOMEMALLOC", 19), ("__GFP_HARDWALL", 20), ("__GFP_THISNODE", 21), ("__GFP_ACCOUNT", 22), ("__GFP_ZEROTAGS", 23)));
        // Bits from 24 are configuration dependent; the fallback assumes the common distribution configuration
        // (no KASAN_HW_TAGS, no LOCKDEP, SLAB_OBJ_EXT from 6.10), as on the reference machine.
        if (era != "5.1-6.2") l.Add(("__GFP_NO_OBJ_EXT", 1UL << 24));
        return l;
    }

    static List<(string, ulong)> Bits(params (string Name, int Bit)[] bits)
    {
        var l = new List<(string, ulong)>(bits.Length);
        foreach (var (n, b) in bits) l.Add((n, 1UL << b));
        return l;
    }
}
