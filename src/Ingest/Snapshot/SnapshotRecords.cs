namespace AsiTrace.Ingest.Snapshot;

/// <summary>One zone of <c>/proc/zoneinfo</c>: counters in pages, watermarks, and its per-CPU page lists.</summary>
public sealed class ZoneInfo
{
    public required int Node { get; init; }
    public required string Name { get; init; }
    public long Free, Boost, Min, Low, High, Promo, Spanned, Present, Managed, Cma;
    public long StartPfn = -1;
    public long[] Protection = [];
    public List<PcpInfo> Pagesets { get; } = new();
}

/// <summary>A CPU's pcp list of a zone (<c>pagesets</c> in zoneinfo): pages held, <c>high</c>, <c>batch</c>, and the
/// auto-tuning bounds <c>high_min</c>/<c>high_max</c> that kernels since v6.7 print.</summary>
public sealed record PcpInfo(int Cpu, long Count, long High, long Batch, long? HighMin, long? HighMax);

/// <summary>A line of <c>/proc/buddyinfo</c>: free blocks per order in one zone.</summary>
public sealed record BuddyinfoZone(int Node, string Zone, long[] FreeBlocksByOrder)
{
    /// <summary>Free pages the line accounts for: Σ blocks × 2^order.</summary>
    public long FreePages
    {
        get { long s = 0; for (int o = 0; o < FreeBlocksByOrder.Length; o++) s += FreeBlocksByOrder[o] << o; return s; }
    }
}

/// <summary><c>/proc/pagetypeinfo</c>: free blocks per zone, migratetype and order; pageblocks per migratetype.</summary>
public sealed class PagetypeInfo
{
    public int PageblockOrder { get; set; } = -1;
    public int PagesPerBlock { get; set; } = -1;
    public List<(int Node, string Zone, string Type, long[] FreeBlocksByOrder)> Free { get; } = new();
    public List<(int Node, string Zone, Dictionary<string, long> BlocksByType)> Blocks { get; } = new();
}

/// <summary>A line of <c>/proc/iomem</c>: a physical range, its name, and its nesting depth (two spaces per level).</summary>
public readonly record struct IomemRange(ulong Start, ulong EndExclusive, string Name, int Depth);
