using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Alloc;

/// <summary>Zone indices as <c>enum zone_type</c> orders them on x86-64 (include/linux/mmzone.h).</summary>
public static class ZoneIndex
{
    public const int Dma = 0, Dma32 = 1, Normal = 2, Movable = 3, Count = 4;
    public static string Name(int z) => z switch { Dma => "DMA", Dma32 => "DMA32", Normal => "Normal", Movable => "Movable", _ => $"zone{z}" };
    public static int FromName(string name) => name switch { "DMA" => Dma, "DMA32" => Dma32, "Normal" => Normal, "Movable" => Movable, _ => -1 };
}

/// <summary>Blocks of one order and migratetype a CPU's pcp list holds at the start.</summary>
public readonly record struct PcpListSeed(int Order, int Mt, int Blocks);

/// <summary>One CPU's pcp list of a zone at the start: pages held and the sizing the kernel printed.</summary>
public sealed record PcpSpec(int Cpu, int Count, int High, int Batch, int HighMin, int HighMax);

/// <summary>
/// What the model needs to know of a zone to start where the kernel was: its span, which pageblocks are online,
/// how many pageblocks each migratetype owns, the free blocks per migratetype and order, watermarks, lowmem reserves
/// and pcp sizing. Filled from a machine snapshot by the replay, or by tests.
/// </summary>
public sealed record ZoneSpec
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required long StartPfn { get; init; }
    public required long SpannedPages { get; init; }
    public long ManagedPages { get; init; }
    public Watermarks Watermarks { get; init; }
    /// <summary><c>lowmem_reserve[]</c> ("protection:" in zoneinfo), indexed by the request's highest zone.</summary>
    public long[] Protection { get; init; } = [];
    /// <summary>RAM as pfn ranges [Start, End); empty means the whole span is RAM.</summary>
    public IReadOnlyList<(long Start, long End)> Ram { get; init; } = [];
    /// <summary>Pageblocks per migratetype (pagetypeinfo "Number of blocks type"); null: every online pageblock movable.</summary>
    public long[]? PageblocksByType { get; init; }
    /// <summary>Free blocks [migratetype][order] (pagetypeinfo); null: none.</summary>
    public long[][]? FreeBlocks { get; init; }
    public IReadOnlyList<PcpSpec> Pcp { get; init; } = [];
    /// <summary>How each CPU's <see cref="PcpSpec.Count"/> pages sit on its lists (zoneinfo does not say); null for a CPU:
    /// all order-0 movable.</summary>
    public IReadOnlyDictionary<int, PcpListSeed[]>? PcpLists { get; init; }
    /// <summary>No snapshot: every page not held by an older allocation is free, in the largest canonical blocks.</summary>
    public bool FreeAllUnblocked { get; init; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Protect(int highestZoneIdx) => highestZoneIdx >= 0 && highestZoneIdx < Protection.Length ? Protection[highestZoneIdx] : 0;
}
