using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Fidelity;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay;

public sealed record ReplayOptions
{
    /// <summary>Machine state when the trace started (zones, free lists, pcp sizing); null: inferred from the trace.</summary>
    public MachineSnapshot? StartSnapshot { get; init; }
    /// <summary>Machine state when the trace ended, for the end-of-trace fidelity figures.</summary>
    public MachineSnapshot? EndSnapshot { get; init; }
    public PageAllocatorOptions Allocator { get; init; } = new();
    public Model.Tlb.CostModel Costs { get; init; } = new();
    /// <summary>Tolerances the issue sets: zone-locked and drain counts within 10 %, end free pages per zone within 5 %.</summary>
    public double CountTolerance { get; init; } = 0.10;
    public double FreePagesTolerance { get; init; } = 0.05;
}

/// <summary>What one replay produced.</summary>
public sealed class ReplayResult
{
    public long Events { get; set; }
    public long LostEvents { get; set; }
    public int Cpus { get; set; }
    public List<FidelityCheck> Fidelity { get; } = new();
    public Dictionary<string, long> Anomalies { get; } = new(StringComparer.Ordinal);
    public List<string> Assumptions { get; } = new();
    /// <summary>Metric values per policy, metric names snake_case as the CLI contract prints them.</summary>
    public Dictionary<string, Dictionary<string, double>> Metrics { get; } = new(StringComparer.Ordinal);
    /// <summary>Modelled CPU time of the replayed work per policy (cost model; baseline work included).</summary>
    public Dictionary<string, double> EstimatedNs { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Reads the events twice: a pre-scan (which pfns are allocations older than the trace, the CPUs, the trace's own
/// allocator events), then the replay proper through every policy's model. The model starts from the start snapshot's
/// zones and free lists when given.
/// </summary>
public static class ReplayRunner
{
    const int Chunk = 8192;

    public static ReplayResult Run(Func<IEventReader> open, ReplayOptions options, Action<int, long>? progress = null)
    {
        var result = new ReplayResult();
        var specs = options.StartSnapshot is { } start ? ZoneSpecs.FromSnapshot(start, result.Assumptions) : null;
        long pfnLimit = specs is { Count: > 0 } ? specs.Max(s => s.StartPfn + s.SpannedPages) : 1L << 28;

        // Pass 1.
        var scan = new PreScan(pfnLimit);
        var traceCounts = new long[EventKinds.Count];
        long changedOwnership = 0, lost = 0;
        var buf = new TraceEvent[Chunk];
        using (var reader = open())
        {
            int n;
            while ((n = reader.Read(buf)) > 0)
            {
                var span = buf.AsSpan(0, n);
                scan.Add(span);
                foreach (ref readonly var e in span)
                {
                    traceCounts[(int)e.Kind]++;
                    if (e.Kind == EventKind.MmPageAllocExtfrag && e.ChangeOwnership != 0) changedOwnership++;
                    if (e.Kind == EventKind.LostEvents && e.Lost > 0) lost += e.Lost;
                }
                progress?.Invoke(1, reader.BytesConsumed);
            }
            result.Cpus = Math.Max(reader.Metadata.CpuCount, scan.MaxCpu + 1);
        }
        result.Events = scan.Events;
        result.LostEvents = lost;
        if (scan.PfnsOutOfRange > 0) result.Anomalies["pfns_outside_the_snapshot_zones"] = scan.PfnsOutOfRange;

        if (specs is null)
        {
            specs = InferZones(scan.MaxPfn, result.Assumptions);
        }
        var zones = new List<InitialZone>();
        foreach (var spec in specs)
        {
            var iz = InitialLayout.Build(spec, options.Allocator.Buddy, scan.KeepAllocated);
            if (iz is null) continue;
            iz.Zone.RecordEvents = false;
            result.Assumptions.AddRange(iz.Assumptions);
            zones.Add(iz);
        }
        if (options.StartSnapshot?.Cpus is int snapCpus && snapCpus > result.Cpus) result.Cpus = snapCpus;
        var demand = scan.Order0AllocsByCpu;
        var allocOptions = options.Allocator with
        {
            PcpSeedShare = options.Allocator.PcpSeedShare ?? (cpu => cpu < demand.Length ? Array.ConvertAll(demand[cpu], v => (double)v) : null),
        };
        if (zones.Any(z => z.PcpSeeds.Count > 0))
            result.Assumptions.Add("pcp lists: the snapshot gives pages per CPU, not per list; they are spread over the order-0 lists in proportion to each CPU's order-0 allocations per migratetype in the trace");
        var allocator = new PageAllocator(zones, result.Cpus, allocOptions);
        for (int c = 0; c < result.Cpus; c++)
            allocator.SetDecaySchedule(c, DecayPoints.Schedule(scan.DecayPointsByCpu.GetValueOrDefault(c), scan.FirstTs, scan.LastTs, options.Allocator.StatIntervalNs));
        if (scan.DecayPointsByCpu.Count > 0)
            result.Assumptions.Add($"pcp decay (vmstat_update) is anchored to the drains no free caused, which the trace shows on CPU {string.Join(", ", scan.DecayPointsByCpu.Keys.Order())}, and runs once a second in between; other CPUs decay every second from the trace start");
        var noasi = new NoAsiPolicy(allocator, options.Costs);
        var recon = new RequestReconstructor([noasi], scan.KeepAllocated);

        // Pass 2.
        using (var reader = open())
        {
            int n;
            while ((n = reader.Read(buf)) > 0)
            {
                recon.Add(buf.AsSpan(0, n));
                progress?.Invoke(2, reader.BytesConsumed);
            }
        }
        foreach (var (k, v) in recon.Anomalies) result.Anomalies[k] = v;
        if (noasi.ModelFailures > 0) result.Anomalies["model_allocation_failures"] = noasi.ModelFailures;

        var m = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["allocations"] = recon.Allocations,
            ["frees"] = recon.Frees,
            ["frees_of_preexisting_allocations"] = recon.PreexistingFrees,
            ["batched_free_duplicates"] = recon.BatchedDuplicates,
            ["zone_locked"] = allocator.CountEvents(AllocatorEventKind.ZoneLocked),
            ["pcpu_drain"] = allocator.CountEvents(AllocatorEventKind.PcpuDrain),
            ["extfrag"] = allocator.CountEvents(AllocatorEventKind.Extfrag),
            ["allocs_below_low_watermark"] = allocator.AllocsBelowLow,
            ["allocs_below_min_watermark"] = allocator.AllocsBelowMin,
            ["free_pages"] = allocator.FreePages,
            ["free_pages_in_2m_blocks"] = FreeInBlocks(allocator, options.Allocator.Buddy.PageblockOrder),
            ["bytes_zeroed"] = noasi.BytesZeroed,
            ["tlb_shootdown_ipis"] = noasi.TlbIpisReceived,
            ["tlb_shootdowns_sent"] = noasi.TlbIpisSent,
            ["tlb_flushes_full"] = noasi.TlbFlushesFull,
            ["tlb_flush_pages_single"] = noasi.TlbFlushPagesSingle,
            ["cost_zeroing_ns"] = noasi.ZeroingNs,
            ["cost_tlb_ns"] = noasi.TlbNs,
        };
        foreach (var z in allocator.Zones)
            if (z is not null)
                foreach (var pcp in z.Pcp)
                {
                    m["pcp_drained_on_free"] = m.GetValueOrDefault("pcp_drained_on_free") + pcp.DrainedOnFree;
                    m["pcp_drained_by_decay"] = m.GetValueOrDefault("pcp_drained_by_decay") + pcp.DrainedByDecay;
                    m[$"pcp_{z.Spec.Name}_cpu{pcp.Cpu}_count"] = pcp.Count;
                    m[$"pcp_{z.Spec.Name}_cpu{pcp.Cpu}_high"] = pcp.High;
                }
        result.Metrics[noasi.Name] = m;
        result.EstimatedNs[noasi.Name] = noasi.EstimatedNs;

        AddFidelity(result, options, traceCounts, changedOwnership, allocator);
        return result;
    }

    static long FreeInBlocks(PageAllocator a, int minOrder)
    {
        long n = 0;
        foreach (var z in a.Zones)
            if (z is not null)
                for (int o = minOrder; o <= z.Buddy.Options.MaxPageOrder; o++) n += z.Buddy.NrFree(o) << o;
        return n;
    }

    static void AddFidelity(ReplayResult r, ReplayOptions o, long[] trace, long changedOwnership, PageAllocator a)
    {
        long extfragModelOwn = 0;
        foreach (var z in a.Zones) if (z is not null) extfragModelOwn += z.Buddy.ExtfragChangedOwnership;
        r.Fidelity.Add(new FidelityCheck("mm_page_alloc_zone_locked", trace[(int)EventKind.MmPageAllocZoneLocked],
            a.CountEvents(AllocatorEventKind.ZoneLocked), o.CountTolerance, "buddy allocations: pcp refills and non-pcp orders", IsCount: true));
        r.Fidelity.Add(new FidelityCheck("mm_page_pcpu_drain", trace[(int)EventKind.MmPagePcpuDrain],
            a.CountEvents(AllocatorEventKind.PcpuDrain), o.CountTolerance, "pages drained from pcp lists to the buddy", IsCount: true));
        r.Fidelity.Add(new FidelityCheck("mm_page_alloc_extfrag", trace[(int)EventKind.MmPageAllocExtfrag],
            a.CountEvents(AllocatorEventKind.Extfrag), null, "fallbacks to another migratetype"));
        r.Fidelity.Add(new FidelityCheck("extfrag_change_ownership", changedOwnership, extfragModelOwn, null, "fallbacks that claimed the pageblock"));
        if (o.EndSnapshot?.Zoneinfo is { } end)
        {
            foreach (var zi in end)
            {
                if (zi.Node != 0) continue;
                int idx = ZoneIndex.FromName(zi.Name);
                if (idx < 0 || a.Zones[idx] is not { } z) continue;
                r.Fidelity.Add(new FidelityCheck($"free_pages_{zi.Name}", zi.Free, z.Buddy.FreePages, o.FreePagesTolerance,
                    "nr_free_pages at the end snapshot vs the model's buddy free pages"));
            }
        }
        else r.Assumptions.Add("no end snapshot: end-of-trace free pages not compared");
    }

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
