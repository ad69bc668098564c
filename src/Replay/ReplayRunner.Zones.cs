using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Requests;
using AsiTrace.Replay.Results;

namespace AsiTrace.Replay;

/// <summary>Zone and pcp set-up for the replay: zones from the snapshot or inferred, RAM ranges, each CPU's starting pcp
/// lists, and the pcp figures read back at the end.</summary>
public static partial class ReplayRunner
{
    /// <summary>The pcp figures the fidelity work reads (noasi only): pages drained by frees and by decay, and each
    /// CPU's pcp count and high at the end.</summary>
    static void AddPcpMetrics(PageAllocator allocator, MetricValues m)
    {
        foreach (var z in allocator.Zones)
            if (z is not null)
                foreach (var pcp in z.Pcp)
                {
                    m[Metrics.PcpDrainedOnFree] = m.GetValueOrDefault(Metrics.PcpDrainedOnFree.Name) + pcp.DrainedOnFree;
                    m[Metrics.PcpDrainedByDecay] = m.GetValueOrDefault(Metrics.PcpDrainedByDecay.Name) + pcp.DrainedByDecay;
                    m.SetFamily(Metrics.PcpCount(z.Spec.Name, pcp.Cpu), pcp.Count);
                    m.SetFamily(Metrics.PcpHigh(z.Spec.Name, pcp.Cpu), pcp.High);
                }
    }

    /// <summary>RAM for the direct map: the snapshot's System RAM ranges, else the zones' spans.</summary>
    static List<Model.Paging.PhysRange> RamRanges(MachineSnapshot? snap, List<ZoneSpec> specs)
    {
        var ram = new List<Model.Paging.PhysRange>();
        if (snap?.Iomem is { } io)
            foreach (var (start, end) in SnapshotParsers.SystemRam(io)) ram.Add(new Model.Paging.PhysRange(start, end));
        if (ram.Count == 0)
            foreach (var z in specs) ram.Add(new Model.Paging.PhysRange((ulong)z.StartPfn << 12, (ulong)(z.StartPfn + z.SpannedPages) << 12));
        return ram;
    }

    /// <summary>
    /// Pages on each CPU's pcp lists of <paramref name="spec"/> when the trace starts: the start snapshot's count, except
    /// that before v6.7 (fixed <c>high</c>, v5.14+ with every order the trace's balance counts) a CPU whose lists the
    /// trace shows drained started with high minus what it gained up to that first drain. The snapshot is taken before
    /// tracing begins and pages move in between (a 6.1 recording: 583 in the snapshot, 775 at the start, which both the
    /// first drain and the end snapshot confirm).
    /// </summary>
    static Dictionary<int, long> StartPcpCounts(ZoneSpec spec, PreScan scan, PcpRules rules, List<string> anchored)
    {
        var counts = new Dictionary<int, long>();
        foreach (var p in spec.Pcp)
        {
            long count = p.Count;
            if (rules is PcpRules.V514 or PcpRules.V518 && p.High > 0 && scan.PagesBeforeFirstDrain(p.Cpu, spec.Index) is long gained)
            {
                long implied = p.High - gained;
                if (implied >= 0 && implied != count)
                {
                    anchored.Add($"{spec.Name} CPU {p.Cpu} {count} → {implied}");
                    count = implied;
                }
            }
            counts[p.Cpu] = count;
        }
        return counts;
    }

    /// <summary>Each CPU's starting pcp lists in <paramref name="spec"/>: the trace's lower bound per list, and the rest of
    /// the CPU's start count (<see cref="StartPcpCounts"/>) on the order-0 list that CPU draws on least.</summary>
    static Dictionary<int, PcpListSeed[]> PcpLists(ZoneSpec spec, PreScan scan, Dictionary<int, long> counts, PcpSurplus surplus)
    {
        var result = new Dictionary<int, PcpListSeed[]>();
        foreach (var p0 in spec.Pcp)
        {
            long startCount = counts.GetValueOrDefault(p0.Cpu, p0.Count);
            if (startCount <= 0) continue;
            var p = p0 with { Count = (int)Math.Min(startCount, int.MaxValue) };
            var need = scan.MinimumPcpBlocks(p.Cpu, spec.Index);
            var blocks = new long[need.Length];
            long needPages = 0;
            for (int i = 0; i < need.Length; i++) needPages += need[i] << PindexOrder(i);
            double scale = needPages > p.Count ? (double)p.Count / needPages : 1;
            long used = 0;
            for (int i = 0; i < need.Length; i++)
            {
                blocks[i] = (long)Math.Floor(need[i] * scale);
                used += blocks[i] << PindexOrder(i);
            }
            // The surplus the snapshot counts beyond those minimums goes to the order-0 list this CPU draws on least, where
            // it does not move the moments the trace's lists run dry. (Spreading it by demand instead delayed CPU 0's
            // last refill on the churn sample: zone_locked −11 %; this way −1.4 %.)
            long rest = p.Count - used;
            var demand = p.Cpu < scan.Order0AllocsByCpu.Length ? scan.Order0AllocsByCpu[p.Cpu] : null;
            long total = demand is null ? 0 : demand.Take(Migratetype.PcpTypes).Sum();
            if (surplus == PcpSurplus.ByDemand && total > 0)
            {
                long given = 0;
                int most = 0;
                for (int mt = 0; mt < Migratetype.PcpTypes; mt++)
                {
                    long share = rest * demand![mt] / total;
                    blocks[PerCpuPages.Pindex(Freetype.OfMigratetype(mt), 0)] += share;
                    given += share;
                    if (demand[mt] > demand[most]) most = mt;
                }
                blocks[PerCpuPages.Pindex(Freetype.OfMigratetype(most), 0)] += rest - given;
            }
            else
            {
                int least = Migratetype.Movable;
                if (demand is not null && surplus == PcpSurplus.LeastDrawn)
                {
                    least = 0;
                    for (int mt = 1; mt < Migratetype.PcpTypes; mt++) if (demand[mt] < demand[least]) least = mt;
                }
                blocks[PerCpuPages.Pindex(Freetype.OfMigratetype(least), 0)] += rest;
            }
            var lists = new List<PcpListSeed>();
            for (int i = 0; i < blocks.Length; i++)
                if (blocks[i] > 0) lists.Add(new PcpListSeed(PindexOrder(i), PindexMt(i), (int)blocks[i]));
            result[p.Cpu] = lists.ToArray();
        }
        return result;
    }

    static int PindexOrder(int pindex) => PerCpuPages.PindexOrder(pindex);
    static int PindexMt(int pindex) => PerCpuPages.PindexFreetype(pindex).Mt;

    /// <summary>Without a snapshot: x86-64 zone boundaries (DMA below 16 MiB, DMA32 below 4 GiB) up to the highest pfn seen.</summary>
    static List<ZoneSpec> InferZones(long maxPfn, List<string> assumptions)
    {
        long end = Math.Max(maxPfn + 1, 4096);
        assumptions.Add($"no start snapshot: zones inferred from the highest pfn in the trace ({maxPfn}); watermarks and pcp sizes from the kernel's formulas");
        var specs = new List<ZoneSpec>();
        void Add(string name, int idx, long s, long e)
        {
            if (e <= s) return;
            long managed = e - s;
            long minKb = ZoneSizing.MinFreeKbytes(end * 4);
            specs.Add(new ZoneSpec
            {
                Name = name, Index = idx, StartPfn = s, SpannedPages = e - s, ManagedPages = managed,
                Watermarks = ZoneSizing.ZoneWatermarks(minKb, managed, end), FreeAllUnblocked = true,
            });
        }
        Add("DMA", ZoneIndex.Dma, 1, Math.Min(end, 4096));
        Add("DMA32", ZoneIndex.Dma32, 4096, Math.Min(end, 1L << 20));
        Add("Normal", ZoneIndex.Normal, 1L << 20, end);
        return specs;
    }
}
