namespace AsiTrace.Model.Tlb;

/// <summary>Geometry of one TLB structure: entries and ways (ways == entries: fully associative).</summary>
public readonly record struct TlbGeometry(int Entries, int Ways)
{
    public int Sets => Entries == 0 ? 0 : Entries / Ways;
    public static TlbGeometry Fully(int entries) => new(entries, entries);
    public static readonly TlbGeometry None = new(0, 1);
}

/// <summary>
/// Data-side TLBs of one core (docs/model.md §5.1). Intel: separate L1 structures per page size and an STLB for
/// 4K+2M plus a 1G STLB. AMD: one fully associative L1 for all sizes and an L2 for 4K/2M; 1 GiB translations are not
/// held in L2 ("smashed" into 2 MiB entries on Zen 2/3, not held at all on Zen 4/5: modelled as 2 MiB entries in L2).
/// </summary>
public sealed record CpuPreset
{
    public required string Name { get; init; }
    public required TlbGeometry L1_4K { get; init; }
    public required TlbGeometry L1_2M { get; init; }
    public required TlbGeometry L1_1G { get; init; }
    /// <summary>AMD: one L1 for every size (<see cref="L1_4K"/> holds its geometry; the 2M/1G entries are unused).</summary>
    public bool L1Shared { get; init; }
    public required TlbGeometry L2 { get; init; }
    public required TlbGeometry L2_1G { get; init; }
    public int PageWalkers { get; init; }
    public bool Invlpgb { get; init; }
    public required string Source { get; init; }
    /// <summary>The cost constants (docs/costs.md) with this CPU's clock for cycle ↔ time conversion.</summary>
    public CostModel Costs { get; init; } = new();

    static CostModel Clock(double ghz, string sku) => new() { CpuGhz = ghz, CpuGhzSource = $"base clock of {sku} [estimate: set CpuGhz to the traced machine's]" };

    public static readonly CpuPreset SapphireRapids = new()
    {
        Name = "sapphire-rapids", L1_4K = new(96, 6), L1_2M = new(32, 4), L1_1G = TlbGeometry.Fully(8), L2 = new(2048, 16), L2_1G = new(1024, 8),
        Costs = Clock(2.0, "Xeon Platinum 8480+"), PageWalkers = 4, Source = "docs/model.md §5.1: Golden Cove L1 DTLB 96 (widely reported); STLB from the Intel optimization manual [verify]",
    };
    public static readonly CpuPreset IceLakeSP = new()
    {
        Name = "ice-lake-sp", L1_4K = new(64, 4), L1_2M = new(32, 4), L1_1G = TlbGeometry.Fully(8), L2 = new(2048, 16), L2_1G = new(1024, 8),
        Costs = Clock(2.3, "Xeon Platinum 8380"), PageWalkers = 2, Source = "docs/model.md §5.1: Intel optimization manual, Ice Lake chapter [verify]; 1G STLB ways assumed 8",
    };
    public static readonly CpuPreset SkylakeSP = new()
    {
        Name = "skylake-sp", L1_4K = new(64, 4), L1_2M = new(32, 4), L1_1G = new(4, 4), L2 = new(1536, 12), L2_1G = new(16, 4),
        Costs = Clock(2.5, "Xeon Platinum 8180"), PageWalkers = 2, Source = "docs/model.md §5.1: Intel 64 and IA-32 Optimization Reference Manual (248966), Skylake TLB table",
    };
    public static readonly CpuPreset Zen3 = new()
    {
        Name = "zen3", L1_4K = TlbGeometry.Fully(64), L1_2M = TlbGeometry.None, L1_1G = TlbGeometry.None, L1Shared = true,
        L2 = new(2048, 16), L2_1G = TlbGeometry.None, PageWalkers = 6, Invlpgb = true, Costs = Clock(2.45, "EPYC 7763"),
        Source = "docs/model.md §5.1: AnandTech Zen 3 deep dive (walkers), AMD SOG 56665 [verify]; L2 ways assumed 16",
    };
    public static readonly CpuPreset Zen4 = new()
    {
        Name = "zen4", L1_4K = TlbGeometry.Fully(72), L1_2M = TlbGeometry.None, L1_1G = TlbGeometry.None, L1Shared = true,
        L2 = new(3072, 24), L2_1G = TlbGeometry.None, PageWalkers = 6, Invlpgb = true, Costs = Clock(2.4, "EPYC 9654"),
        Source = "docs/model.md §5.1: AMD Software Optimization Guide for Zen 4, pub. 57647",
    };
    public static readonly CpuPreset Zen5 = new()
    {
        Name = "zen5", L1_4K = TlbGeometry.Fully(96), L1_2M = TlbGeometry.None, L1_1G = TlbGeometry.None, L1Shared = true,
        L2 = new(4096, 16), L2_1G = TlbGeometry.None, PageWalkers = 6, Invlpgb = true, Costs = Clock(2.7, "EPYC 9755"),
        Source = "docs/model.md §5.1: AMD Hot Chips 2024 Zen 5, SOG 58455 [verify]; L2 ways assumed 16",
    };

    public static IReadOnlyList<CpuPreset> All { get; } = [SapphireRapids, IceLakeSP, SkylakeSP, Zen3, Zen4, Zen5];

    public static CpuPreset? Find(string name)
    {
        foreach (var p in All) if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p;
        return null;
    }
}
