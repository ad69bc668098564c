namespace AsiTrace.Model.Alloc;

/// <summary>An event the allocator model emits, as the kernel's tracepoints would (docs/model.md §2).</summary>
/// <param name="Freetype">the requested freetype (the tracepoint prints its migratetype).</param>
/// <param name="FallbackFreetype">the list a fallback took the block from, or the freetype a block changed from.</param>
public readonly record struct AllocatorEvent(AllocatorEventKind Kind, long Pfn, int Order, Freetype Freetype,
    int FallbackOrder = -1, Freetype? FallbackFreetype = null, bool ChangeOwnership = false, bool PercpuRefill = false)
{
    /// <summary>What the tracepoint's <c>migratetype</c> field would show.</summary>
    public int Migratetype => Freetype.Mt;
    public int FallbackMigratetype => FallbackFreetype?.Mt ?? -1;
}

public enum AllocatorEventKind : byte { ZoneLocked, Extfrag, PcpuDrain, FreetypeChange }

/// <summary>Fallback rules by kernel era.</summary>
public enum FallbackRules
{
    /// <summary>v6.15+: <c>__rmqueue_claim()</c> (largest first) then <c>__rmqueue_steal()</c> (smallest first).</summary>
    ClaimThenSteal,
    /// <summary>v6.10–v6.14: <c>__rmqueue_fallback()</c> returning the page (claim the block, or a single block keeping the fallback type).</summary>
    Legacy610,
    /// <summary>≤ v6.9: <c>__rmqueue_fallback()</c> moves free memory to the requested type and <c>__rmqueue()</c> retries
    /// <c>__rmqueue_smallest()</c>, so every fallback is followed by <c>mm_page_alloc_zone_locked</c>.</summary>
    Legacy69,
}

/// <summary>The internal <c>ALLOC_*</c> flags the model needs (mm/internal.h; docs/model.md §1.5).</summary>
[Flags]
public enum AllocFlags
{
    None = 0,
    NonBlock = 1 << 0,
    MinReserve = 1 << 1,
    HighAtomic = 1 << 2,
    Oom = 1 << 3,
    Cma = 1 << 4,
    NoFragment = 1 << 5,
    Kswapd = 1 << 6,
    /// <summary><c>ALLOC_NOBLOCK</c> (Sep 2025 ASI series, 0x1000): the caller's gfp lacks __GFP_DIRECT_RECLAIM, so it may not
    /// change a pageblock's sensitivity (that needs a TLB shootdown with IRQs on).</summary>
    NoBlock = 1 << 7,
    /// <summary><c>ALLOC_RESERVES</c>: any of these may dip below the min watermark.</summary>
    Reserves = NonBlock | MinReserve | HighAtomic | Oom,
}

/// <summary>Options of the buddy model (docs/model.md §1.2, §1.7).</summary>
public sealed record BuddyOptions
{
    public int MaxPageOrder { get; init; } = 10;
    public int PageblockOrder { get; init; } = 9;
    /// <summary>Which kernel's fallback rules (docs/model.md §1.7).</summary>
    public FallbackRules Fallback { get; init; } = FallbackRules.ClaimThenSteal;
    /// <summary>Freetype layout of the free lists (mainline: migratetypes only).</summary>
    public FreetypeLayout Freetypes { get; init; } = FreetypeLayout.None;
    /// <summary>Where in <c>__rmqueue()</c> a request may change a pageblock's freetype (docs/model.md §8.3): after
    /// every fallback (the Sep 2025 series, from <c>rmqueue_buddy()</c>), before stealing, or before claiming.</summary>
    public ConvertPoint ConvertAt { get; init; } = ConvertPoint.AfterFallbacks;
}

public enum ConvertPoint { AfterFallbacks, BeforeSteal, BeforeClaim }
