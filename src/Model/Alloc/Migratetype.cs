namespace AsiTrace.Model.Alloc;

/// <summary>Migratetypes (include/linux/mmzone.h with CONFIG_CMA and CONFIG_MEMORY_ISOLATION; docs/model.md §1.3).</summary>
public static class Migratetype
{
    public const int Unmovable = 0, Movable = 1, Reclaimable = 2, HighAtomic = 3, Cma = 4, Isolate = 5, Count = 6;
    public const int PcpTypes = 3;

    /// <summary><c>migratetype_is_mergeable()</c>: only the three pcp types merge across pageblocks.</summary>
    public static bool IsMergeable(int mt) => mt < PcpTypes;

    /// <summary>The fallback table (<c>fallbacks[]</c> in mm/page_alloc.c).</summary>
    public static ReadOnlySpan<int> Fallbacks(int mt) => mt switch
    {
        Unmovable => [Reclaimable, Movable],
        Movable => [Reclaimable, Unmovable],
        Reclaimable => [Unmovable, Movable],
        _ => [],
    };

    /// <summary><c>gfp_migratetype()</c>: __GFP_MOVABLE (bit 3) and __GFP_RECLAIMABLE (bit 4) shifted down.</summary>
    public static int FromGfpBits(bool movable, bool reclaimable) => (movable ? 1 : 0) | (reclaimable ? 2 : 0);

    public static string Name(int mt) => mt switch
    {
        Unmovable => "Unmovable", Movable => "Movable", Reclaimable => "Reclaimable", HighAtomic => "HighAtomic",
        Cma => "CMA", Isolate => "Isolate", _ => $"mt{mt}",
    };
}
