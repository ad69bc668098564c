using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Fidelity;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Requests;
using AsiTrace.Replay.Results;
using AsiTrace.Replay.Workload;

namespace AsiTrace.Replay;

/// <summary>Placement of the starting pcp pages zoneinfo counts beyond what the trace proves each list held.</summary>
public enum PcpSurplus
{
    /// <summary>On the order-0 list of the migratetype the CPU allocates least at order 0.</summary>
    LeastDrawn,
    /// <summary>Over the order-0 lists in proportion to the CPU's order-0 allocations per migratetype.</summary>
    ByDemand,
    /// <summary>On the movable order-0 list: most frees, which is how pages reach a pcp list, are of movable pages.</summary>
    Movable,
}

public sealed record ReplayOptions
{
    /// <summary>Machine state when the trace started (zones, free lists, pcp sizing); null: inferred from the trace.</summary>
    public MachineSnapshot? StartSnapshot { get; init; }
    /// <summary>Machine state when the trace ended, for the end-of-trace fidelity figures.</summary>
    public MachineSnapshot? EndSnapshot { get; init; }
    public PageAllocatorOptions Allocator { get; init; } = new();
    /// <summary>Allocator rules of the traced kernel; null: chosen from its release (snapshot uname or trace header),
    /// current rules when unknown.</summary>
    public FallbackRules? Fallback { get; init; }
    public PcpRules? Pcp { get; init; }
    /// <summary>Where each CPU's starting pcp pages beyond the trace's proven minimum go (docs/model.md §8.1). The one
    /// data-chosen rule of the starting state: chosen on <c>churn</c>, checked against the other two on both halves of the
    /// corpus (docs/fidelity-corpus.md).</summary>
    public PcpSurplus PcpSurplus { get; init; } = PcpSurplus.LeastDrawn;
    public Model.Tlb.CostModel Costs { get; init; } = Model.Tlb.CpuPreset.SapphireRapids.Costs;
    /// <summary>CPU preset: TLB geometry (and INVLPGB) of the modelled machine.</summary>
    public Model.Tlb.CpuPreset Cpu { get; init; } = Model.Tlb.CpuPreset.SapphireRapids;
    /// <summary>Policies to replay side by side (empty: noasi only).</summary>
    public IReadOnlyList<PolicySpec> Policies { get; init; } = [];
    public PolicyKnobs Knobs { get; init; } = new();
    /// <summary>User classification rules (<c>--classify</c>), tried before the defaults.</summary>
    public IReadOnlyList<ClassifyRule> Classify { get; init; } = [];
    /// <summary><c>--placement trace</c>: keep the traced pfns (MMU-side costs of where pages really were; no allocator
    /// model, no fidelity). Policies whose pageblock grouping is the allocator's (asi-freetypes, unmapped) need model
    /// placement.</summary>
    public bool TracePlacement { get; init; }
    /// <summary>Where to write <c>requests.parquet</c> (every request's class and reason), or null.</summary>
    public Stream? RequestsOutput { get; init; }
    /// <summary><c>--window</c>: count only this part of the trace (the model is warmed through what comes before).</summary>
    public ReplayWindow? Window { get; init; }
    /// <summary>Time-series sampling interval in trace nanoseconds (<c>--interval</c>); 0: totals only.</summary>
    /// <summary>Series sampling interval in ns of trace time; 0: totals only; negative: <c>auto</c>
    /// (<see cref="MachineLimits.AutoSeriesInterval"/>).</summary>
    public long IntervalNs { get; init; } = 1_000_000_000;
    /// <summary>Without a snapshot, the largest machine (bytes of RAM) the trace's pfns may imply
    /// (<see cref="MachineLimits.DefaultMaxRamWithoutSnapshot"/>).</summary>
    public long MaxRamWithoutSnapshot { get; init; } = MachineLimits.DefaultMaxRamWithoutSnapshot;
    /// <summary>The command's CPU time measured without tracing (<c>record --baseline</c>), in ns: preferred as the
    /// workload's CPU time, being free of tracing's slowdown.</summary>
    public double? BaselineCpuNs { get; init; }
    /// <summary>Online CPUs of the traced machine when the input does not say (<c>--cpus</c>); the most of this, the
    /// input's metadata, the snapshot and the CPUs with events is used.</summary>
    public int? Cpus { get; init; }
    /// <summary>The recorder's own threads (<c>record.json</c>): their CPU time is not the workload's.</summary>
    public IReadOnlyList<int> RecorderTids { get; init; } = [];
    /// <summary>What the caller wants said among the run's assumptions (e.g. where the cost constants came from).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Fidelity targets (docs/model.md §9): event counts, pcp pages per CPU, fallbacks and claims within 10 %;
    /// free pages per zone within 1 %; the free-block distribution per zone within a distance of 0.10.</summary>
    public double CountTolerance { get; init; } = 0.10;
    public double FreePagesTolerance { get; init; } = 0.01;
    public double PcpPagesTolerance { get; init; } = 0.10;
    public double FreeBlockDistanceTarget { get; init; } = 0.10;
}

/// <summary>One row of <c>pageblocks.parquet</c>: a cell of the physical-memory map (fraction of flagged pageblocks).</summary>
public readonly record struct PageblockCell(string Policy, long TsNs, int Bucket, double Flagged);

/// <summary>One row of <c>series.parquet</c>: a policy's cumulative metric at trace time <see cref="TsNs"/>.</summary>
public readonly record struct SeriesPoint(string Policy, long TsNs, string Metric, double Value);

/// <summary>What one replay produced.</summary>
public sealed class ReplayResult
{
    public long Events { get; set; }
    public long LostEvents { get; set; }
    public int Cpus { get; set; }
    /// <summary>The trace's first and last event times (ns, the trace's clock): the time axis of the series.</summary>
    public long TraceStartNs { get; set; }
    public long TraceEndNs { get; set; }
    /// <summary>The interval the series was sampled at (after <c>auto</c> and the widening past 10,000 samples); 0: none.</summary>
    public long SeriesIntervalNs { get; set; }
    public List<FidelityCheck> Fidelity { get; } = new();
    public Dictionary<string, long> Anomalies { get; } = new(StringComparer.Ordinal);
    public List<string> Assumptions { get; } = new();
    /// <summary>Metric values per policy (names in <see cref="Results.Metrics"/>).</summary>
    public Dictionary<string, MetricValues> Metrics { get; } = new(StringComparer.Ordinal);
    public string? KernelRelease { get; set; }
    /// <summary>How the kernel entries were counted: "traced" (every system call and user fault in the trace),
    /// "partly inferred", or "inferred" (the trace shows none; <c>replay --json</c> then gives kernel_entries as null).</summary>
    public string KernelEntriesBasis { get; set; } = "inferred";
    public FallbackRules FallbackRules { get; set; }
    public PcpRules PcpRules { get; set; }
    /// <summary>Cumulative metric values per policy every interval of trace time, and at the end.</summary>
    public List<SeriesPoint> Series { get; } = new();
    /// <summary>The physical-memory map of the freetype policies over time (<c>pageblocks.parquet</c>).</summary>
    public List<PageblockCell> Pageblocks { get; } = new();
    /// <summary>Allocation mix of the first policy: (order, migratetype, class) → requests.</summary>
    public Dictionary<(int Order, int Mt, Sensitivity Class), long> Mix { get; } = new();
    /// <summary>The reader's counters (name, severity, value): lines skipped, data lost, …</summary>
    public List<(string Name, string Severity, long Value)> IngestCounters { get; } = new();
    /// <summary>The workload's measured CPU time during the trace: the denominator of every overhead.</summary>
    public WorkloadTime? Workload { get; set; }
    /// <summary>Per policy, the count of each cost constant its CPU time holds (<see cref="CostRanges"/>).</summary>
    public Dictionary<string, double[]> CostCounts { get; } = new(StringComparer.Ordinal);
    /// <summary>Modelled CPU time of the replayed work per policy (cost model; baseline work included).</summary>
    public Dictionary<string, double> EstimatedNs { get; } = new(StringComparer.Ordinal);
    /// <summary>With <c>--window</c>, the counted span (trace time, inclusive); null otherwise.</summary>
    public long? WindowStartNs { get; set; }
    public long? WindowEndNs { get; set; }
    /// <summary>Each policy's costs by who caused them (<c>attribution.parquet</c>).</summary>
    public List<AttributionRow> Attribution { get; } = new();
}

/// <summary>
/// Reads the events twice: a pre-scan (which pfns are allocations older than the trace, the CPUs, the trace's own
/// allocator events), then the replay proper through every policy's model. The model starts from the start snapshot's
/// zones and free lists when given.
/// </summary>
public static partial class ReplayRunner
{
    // Events per chunk: 128 KB of 64-byte events, so the chunks in flight (the pool holds six) stay in the consumer core's
    // L2; larger chunks were measurably slower for one policy and no faster for four (BENCHMARKS.md).
    internal const int Chunk = 2048;

    public static ReplayResult Run(Func<IEventReader> open, ReplayOptions options, Action<int, long>? progress = null)
    {
        var result = new ReplayResult();
        result.Assumptions.AddRange(options.Notes);
        var specs = options.StartSnapshot is { } start ? ZoneSpecs.FromSnapshot(start, result.Assumptions) : null;
        long pfnLimit = specs is { Count: > 0 } ? specs.Max(s => s.StartPfn + s.SpannedPages) : options.MaxRamWithoutSnapshot >> 12;

        // Pass 1.
        // The pcp-list balances seed a snapshot's pcp counts (StartPcpCounts, PcpLists): without them, not followed.
        var scan = new PreScan(pfnLimit, specs?.Select(z => (z.StartPfn, z.StartPfn + z.SpannedPages, z.Index)).ToList(),
            trackPcpLists: specs?.Any(z => z.Pcp.Count > 0) == true);
        var traceCounts = new long[EventKinds.Count];
        var busy = new CpuBusyTime(options.RecorderTids);
        var windowBusy = new CpuBusyTime(options.RecorderTids);
        var window = options.Window;
        long changedOwnership = 0, lost = 0;
        string input;
        using (var reader = open())
        {
            // The pre-scan reads pfn, order, gfp, migratetype, percpu_refill (PreScan) and change_ownership, lost, the
            // switch's pids (below).
            if (reader is IFieldProjection projection)
                projection.OnlyFields(EventFields.Pfn | EventFields.Order | EventFields.Gfp | EventFields.Migratetype
                    | EventFields.PercpuRefill | EventFields.ChangeOwnership | EventFields.Lost | EventFields.PrevPid | EventFields.NextPid, comms: false);
            PreScanParallel(reader, scan, traceCounts, busy, window, windowBusy, ref changedOwnership, ref lost, progress);
            input = reader.Metadata.Inputs.Count > 0 ? string.Join(", ", reader.Metadata.Inputs) : "input";
            MachineLimits.CheckCpus(input, reader.Metadata.CpuCount, scan.MaxCpu, options.StartSnapshot?.Cpus);
            result.Cpus = Math.Max(Math.Max(reader.Metadata.CpuCount, scan.MaxCpu + 1), options.Cpus ?? 0);
            foreach (var (name, sev, v) in reader.Stats.Counters) result.IngestCounters.Add((name, sev.ToString().ToLowerInvariant(), v));
            result.KernelRelease = options.StartSnapshot?.KernelRelease ?? reader.Metadata.KernelRelease;
        }
        options = WithKernelRules(options, result);
        if (window is not null)
        {
            window.Resolve(scan.FirstTs);
            // The window's own CPU time: the snapshots and the untraced baseline measure the whole recording.
            result.Workload = WorkloadTime.Measure(windowBusy, null, null, result.Cpus, null);
            result.WindowStartNs = Math.Max(window.FromNs, scan.FirstTs);
            result.WindowEndNs = Math.Min(window.ToNs, scan.LastTs);
            result.Assumptions.Add($"--window {window.Text}: counted from {result.WindowStartNs / 1e9:F6} to {result.WindowEndNs / 1e9:F6} s of trace time; "
                + "the model replayed every event from the trace start, so it entered the window in the traced kernel's state (warm-up), and costs, counts, series and attribution cover the window only"
                + (window.ToNs < scan.LastTs ? "; events after the window were not replayed, so the end-of-trace fidelity figures are not compared" : ""));
        }
        else result.Workload = WorkloadTime.Measure(busy, options.StartSnapshot, options.EndSnapshot, result.Cpus, options.BaselineCpuNs);
        result.Assumptions.Add(result.Workload.Note);
        var entryFacts = options.Knobs.InferEntries ? TracedEntries.Ignore(traceCounts, result.Assumptions) : TracedEntries.Of(traceCounts, result.Assumptions);
        result.KernelEntriesBasis = TracedEntries.Basis(entryFacts, traceCounts);
        result.Events = scan.Events;
        result.LostEvents = lost;
        if (scan.PfnsOutOfRange > 0) result.Anomalies["pfns_outside_the_snapshot_zones"] = scan.PfnsOutOfRange;

        if (specs is null)
        {
            MachineLimits.CheckPfnWithoutSnapshot(input, scan.MaxPfn, options.MaxRamWithoutSnapshot);
            specs = InferZones(scan.MaxPfn, result.Assumptions);
        }
        // Zone specs with their pcp lists, once; each policy builds its own zones from them.
        var readySpecs = new List<ZoneSpec>();
        bool spread = false;
        var anchored = new List<string>();
        foreach (var spec0 in specs)
        {
            var counts = StartPcpCounts(spec0, scan, options.Allocator.Pcp, anchored);
            var spec = counts.Values.Any(c => c > 0) ? spec0 with { PcpLists = PcpLists(spec0, scan, counts, options.PcpSurplus) } : spec0;
            spread |= spec.PcpLists is not null;
            readySpecs.Add(spec);
        }
        if (anchored.Count > 0)
            result.Assumptions.Add("pcp counts at the trace start anchored to the first drain (before v6.7 a free drains exactly when the count reaches the fixed high): " + string.Join("; ", anchored));
        if (options.StartSnapshot?.Cpus is int snapCpus && snapCpus > result.Cpus) result.Cpus = snapCpus;
        if (spread)
            result.Assumptions.Add("pcp lists: zoneinfo gives pages per CPU, not per list; each list starts with the fewest blocks the trace proves it held (its running balance of allocations, refills, drains and frees never goes negative), and the rest of the CPU's pages sit on the order-0 list the trace draws on least");
        if (scan.DecayPointsByCpu.Count > 0)
            result.Assumptions.Add($"pcp decay (vmstat_update) is anchored to the drains no free caused, which the trace shows on CPU {string.Join(", ", scan.DecayPointsByCpu.Keys.Order())}, and runs once a second in between; other CPUs decay every second from the trace start");
        if (scan.PageCacheAllocations > 0)
            result.Assumptions.Add($"{scan.PageCacheAllocations} allocations were later added to the page cache (mm_filemap_add_to_page_cache) and are classified sensitive");
        var ram = RamRanges(options.StartSnapshot, readySpecs);
        // The engines' per-page arrays cover the zones, not the pre-scan's generous bound when there was no snapshot.
        long pfnLimitAll = readySpecs.Count > 0 ? readySpecs.Max(z => z.StartPfn + z.SpannedPages) : pfnLimit;

        var policies = options.Policies.Count > 0 ? options.Policies : [new PolicySpec(PolicyKind.NoAsi)];
        var runs = new PolicyRun[policies.Count];
        for (int i = 0; i < runs.Length; i++)
            runs[i] = new PolicyRun(policies[i], BuildMachine(policies[i], options, readySpecs, scan, result, ram, pfnLimitAll, i == 0, entryFacts), i);
        // Before a window, nothing is attributed (the policies' set-up included).
        if (window is not null) foreach (var run in runs) run.Machine.Attribution.StopCounting();

        long seriesFrom = result.WindowStartNs ?? scan.FirstTs, seriesTo = result.WindowEndNs ?? scan.LastTs;
        long interval = options.IntervalNs < 0 ? MachineLimits.AutoSeriesInterval(seriesFrom, seriesTo) : options.IntervalNs;
        options = options with { IntervalNs = MachineLimits.SeriesInterval(interval, seriesFrom, seriesTo, result.Assumptions) };
        result.TraceStartNs = scan.FirstTs;
        result.TraceEndNs = scan.LastTs;
        result.SeriesIntervalNs = options.IntervalNs;

        // Pass 2: one reader and one reconstruction; each policy plays the same requests on its own thread.
        var (recon, classifier, actorNames, requestCounts) = ReplayParallel(open, runs, scan, options, progress);
        bool toTheEnd = window is null || window.ToNs >= scan.LastTs;

        foreach (var run in runs)
        {
            var e = run.Machine;
            // Work queued at the trace end is the window's only when the window reaches the end.
            if (toTheEnd) e.Finish();
            var m = requestCounts.Counted(window is not null);
            MachineMetrics.AddTo(e, m);
            if (e.Spec.Kind == PolicyKind.NoAsi) AddPcpMetrics(e.Allocator, m);
            double estimated = e.EstimatedNs;
            var counts = e.SettledLedger().CpuTimeCounts();
            if (window is not null)
            {
                // What the machine did before the window is subtracted; a window that starts after the last event counts nothing.
                var before = run.WindowStart ?? WindowSnapshot.Of(e);
                WindowSnapshot.Subtract(m, before.Metrics);
                estimated -= before.EstimatedNs;
                for (int k = 0; k < counts.Length; k++) counts[k] -= before.CostCounts[k];
            }
            result.Metrics[e.Name] = m;
            result.EstimatedNs[e.Name] = estimated;
            result.CostCounts[e.Name] = counts;
            AttributionTable.Add(result.Attribution, e.Name, e.Attribution, actorNames);
            result.Series.AddRange(run.Series);
            result.Pageblocks.AddRange(run.Pageblocks);
            if (run == runs[0]) foreach (var (k, v) in e.Mix.ToDictionary()) result.Mix[k] = v;
            if (run == runs[0]) foreach (var (k, v) in recon.Anomalies) result.Anomalies[k] = v;
            if (e.Counters.ModelFailures > 0) result.Anomalies[$"model_allocation_failures_{e.Name}"] = e.Counters.ModelFailures;
            if (e.Counters.FreesOfPagesNotHeld > 0) result.Anomalies[$"model_frees_of_pages_not_held_{e.Name}"] = e.Counters.FreesOfPagesNotHeld;
            if (e.Counters.SlabRetriesAtOrder0 > 0) result.Anomalies[$"slab_retries_at_order0_{e.Name}"] = e.Counters.SlabRetriesAtOrder0;
            if (e.Counters.CompactionTargetsNotFound > 0) result.Anomalies[$"compaction_targets_not_found_{e.Name}"] = e.Counters.CompactionTargetsNotFound;
            if (run == runs[0])
            {
                // The trace's kernel entries did not add up; the replay went on (docs/model.md §8.7).
                if (e.Entries.ReturnsWithoutEntry > 0) result.Anomalies["syscall_returns_without_entry"] = e.Entries.ReturnsWithoutEntry;
                if (e.Entries.TasksAtOnce > 0) result.Anomalies["entries_of_a_task_not_switched_in"] = e.Entries.TasksAtOnce;
            }
        }
        AddOverheads(result, options.Costs);
        var fidelityRun = runs.FirstOrDefault(r => r.Machine.Spec.Kind == PolicyKind.NoAsi && !r.Machine.Spec.Mermap);
        // A window that ends early stopped the model there: the trace's end-of-trace figures no longer apply (said above).
        if (!toTheEnd) return result;
        if (options.TracePlacement) result.Assumptions.Add("--placement trace: pages stay at the traced pfns; the allocator model is not run, so there is no fidelity check and no allocator metric");
        else if (fidelityRun is not null)
            FidelityChecks.Add(result, options, traceCounts, changedOwnership, fidelityRun.Machine.Allocator,
                new FidelityInputs(PcpSeeded: spread, StartAnchored: anchored.Count > 0, DecayAtTracedDrains: scan.DecayPointsByCpu.Count > 0));
        else result.Assumptions.Add("no noasi policy in the run: the fidelity check needs it");
        return result;
    }

    /// <summary>Each policy's overhead in the workload's terms: its CPU time beyond <c>noasi</c>'s as a share of the
    /// workload's measured CPU time (no overhead without a <c>noasi</c> replay to compare with).</summary>
    static void AddOverheads(ReplayResult result, Model.Tlb.CostModel costs)
    {
        if (result.Workload is not { CpuNs: > 0 } w) return;
        bool haveBase = result.EstimatedNs.TryGetValue("noasi", out double baseNs);
        foreach (var (policy, m) in result.Metrics)
        {
            m[Metrics.WorkloadCpuNs] = w.CpuNs;
            if (!haveBase) continue;
            m[Metrics.OverheadPct] = (result.EstimatedNs[policy] - baseNs) / w.CpuNs * 100;
            // The same extra with every constant across its range (docs/costs.md), from the ledgers' counts.
            var (_, lo, hi, swing) = CostRanges.Extra(result.CostCounts[policy], result.CostCounts["noasi"], costs);
            m[Metrics.OverheadLowPct] = lo / w.CpuNs * 100;
            m[Metrics.OverheadHighPct] = hi / w.CpuNs * 100;
            for (int k = 0; k < swing.Length; k++)
                m.SetFamily(Metrics.OverheadSwing(((Model.Tlb.CostConstant)k).ToString()), swing[k] / w.CpuNs * 100);
        }
        if (!haveBase) result.Assumptions.Add("no noasi policy in the run: overheads need it as the baseline");
    }

    sealed class PolicyRun(PolicySpec spec, Machine machine, int index)
    {
        public PolicySpec Spec { get; } = spec;
        public Machine Machine { get; } = machine;
        public RequestPlayer<MachineSink> Player { get; } = new(new MachineSink(machine), index);
        public List<SeriesPoint> Series { get; } = new();
        public List<PageblockCell> Pageblocks { get; } = new();
        public long NextSample = long.MinValue;
        public long LastTs;
        /// <summary>With <c>--window</c>: the machine's figures when the window began (null before), and whether it ended.</summary>
        public WindowSnapshot? WindowStart;
        public bool WindowClosed;
    }

    /// <summary>The machine <see cref="Run"/> builds for <paramref name="policy"/> after this pre-scan when there is no
    /// snapshot (zones inferred, the kernel's rules unknown, default options). For the benchmarks of the replay's
    /// stages and the allocation test, which play prebuilt request batches into it without the pipeline.</summary>
    internal static Machine MachineAfterPreScan(PolicySpec policy, PreScan scan, int cpus)
    {
        var result = new ReplayResult { Cpus = Math.Max(cpus, scan.MaxCpu + 1) };
        var specs = InferZones(scan.MaxPfn, result.Assumptions);
        var options = WithKernelRules(new ReplayOptions(), result);
        var ram = RamRanges(null, specs);
        long limit = specs.Max(z => z.StartPfn + z.SpannedPages);
        return BuildMachine(policy, options, specs, scan, result, ram, limit, reportAssumptions: false, (false, false));
    }

    static Machine BuildMachine(PolicySpec spec, ReplayOptions options, List<ZoneSpec> specs, PreScan scan, ReplayResult result,
        IReadOnlyList<Model.Paging.PhysRange> ram, long pfnLimit, bool reportAssumptions, (bool Syscalls, bool Faults) entries)
    {
        var knobs = options.Knobs;
        var policy = spec.Create(knobs);
        if (options.TracePlacement && policy.NeedsModelPlacement)
            throw new ArgumentException($"policy {policy.Name} groups pages by pageblock in the allocator, which --placement trace does not model; use --placement model");
        var buddy = options.Allocator.Buddy with { Freetypes = policy.Layout, ConvertAt = knobs.FlipWhen };
        var (flag, fraction) = policy.InitialPageblocks(scan.SensitivePageFraction);
        var zones = new List<InitialZone>();
        foreach (var zoneSpec in specs)
        {
            var iz = InitialLayout.Build(zoneSpec, buddy, scan.KeepAllocated, flag, fraction);
            if (iz is null) continue;
            iz.Zone.RecordEvents = false;
            if (reportAssumptions) result.Assumptions.AddRange(iz.Assumptions);
            zones.Add(iz);
        }
        var allocator = new PageAllocator(zones, result.Cpus, options.Allocator with
        {
            Buddy = buddy, FlipPageblocks = Math.Max(knobs.FlipPageblocks, 1), SharedPcpLists = knobs.SharedPcpLists,
        });
        for (int c = 0; c < result.Cpus; c++)
            allocator.SetDecaySchedule(c, DecayPoints.Schedule(scan.DecayPointsByCpu.GetValueOrDefault(c), scan.FirstTs, scan.LastTs, options.Allocator.StatIntervalNs));
        return new Machine(policy, spec, knobs, allocator, ram, pfnLimit, result.Cpus, options.Cpu, options.Costs, options.TracePlacement,
            entries.Syscalls, entries.Faults) { IgnoreEntryEvents = knobs.InferEntries };
    }

    /// <summary>Pass 1 on two threads: this one reads and runs <see cref="PreScan.AddPageCache"/>, a worker runs
    /// <see cref="PreScan.AddPagesAndLists"/> and counts the trace's own allocator events, over the same chunks.</summary>
    static void PreScanParallel(IEventReader reader, PreScan scan, long[] traceCounts, CpuBusyTime busy, ReplayWindow? window, CpuBusyTime windowBusy,
        ref long changedOwnership, ref long lost, Action<int, long>? progress)
    {
        long own = 0, lostEvents = 0;
        RunChunks(reader, 1, progress, "the pre-scan failed",
            beforeHandOff: null,
            alongside: chunk => scan.AddPageCache(chunk.Events.AsSpan(0, chunk.Count)),
            consumers: [("pre-scan", chunk =>
            {
                var span = chunk.Events.AsSpan(0, chunk.Count);
                scan.AddPagesAndLists(span);
                if (window is not null && span.Length > 0) window.Resolve(span[0].TsNs);
                foreach (ref readonly var e in span)
                {
                    traceCounts[(int)e.Kind]++;
                    busy.Add(in e);
                    if (window is not null && window.Contains(e.TsNs)) windowBusy.Add(in e);
                    if (e.Kind == EventKind.MmPageAllocExtfrag && e.ChangeOwnership != 0) own++;
                    if (e.Kind == EventKind.LostEvents && e.Lost > 0) lostEvents += e.Lost;
                }
            })]);
        changedOwnership += own;
        lost += lostEvents;
    }

    /// <summary>A chunk of events and its requests, shared by the threads of a pass; the last one done hands it back.</summary>
    sealed class SharedChunk(int size)
    {
        public readonly TraceEvent[] Events = new TraceEvent[size];
        public readonly RequestBatch Batch = new();
        /// <summary>The request log's rows of this chunk, until every policy has played it (<c>--requests</c> only).</summary>
        public Results.RequestLog.Staged? Requests;
        public int Count;
        public int Pending;
    }

    /// <summary>
    /// One pass over the input: this thread reads each chunk, runs <paramref name="beforeHandOff"/> on it, hands it to
    /// every consumer thread, then runs <paramref name="alongside"/> on it while they work. Chunks come from a small
    /// pool and return to it when the last user is done, so memory stays bounded. A consumer's exception stops the pass
    /// and is rethrown (wrapped in <paramref name="failureMessage"/>); an exception of this thread (bad input) passes
    /// through as it is.
    /// </summary>
    static void RunChunks(IEventReader reader, int pass, Action<int, long>? progress, string failureMessage,
        Action<SharedChunk>? beforeHandOff, Action<SharedChunk>? alongside, (string Name, Action<SharedChunk> Work)[] consumers,
        Action<SharedChunk>? whenDone = null)
    {
        const int depth = 4;
        using var pool = new System.Collections.Concurrent.BlockingCollection<SharedChunk>();
        for (int i = 0; i < depth + 2; i++) pool.Add(new SharedChunk(Chunk));
        var queues = consumers.Select(_ => new System.Collections.Concurrent.BlockingCollection<SharedChunk>(depth)).ToArray();
        int users = consumers.Length + (alongside is null ? 0 : 1);
        Exception? failure = null;
        var threads = new Thread[consumers.Length];
        for (int i = 0; i < consumers.Length; i++)
        {
            var (name, work) = consumers[i];
            var q = queues[i];
            threads[i] = new Thread(() =>
            {
                try
                {
                    foreach (var chunk in q.GetConsumingEnumerable())
                    {
                        work(chunk);
                        if (Interlocked.Decrement(ref chunk.Pending) == 0) { whenDone?.Invoke(chunk); pool.Add(chunk); }
                    }
                }
                catch (Exception ex) { Interlocked.CompareExchange(ref failure, ex, null); foreach (var other in queues) other.CompleteAdding(); }
            }) { IsBackground = true, Name = name };
            threads[i].Start();
        }
        try
        {
            while (Volatile.Read(ref failure) is null)
            {
                if (!pool.TryTake(out var chunk, 100)) continue;
                chunk.Count = reader.Read(chunk.Events);
                if (chunk.Count == 0) { pool.Add(chunk); break; }
                beforeHandOff?.Invoke(chunk);
                chunk.Pending = users;
                foreach (var q in queues) q.Add(chunk);
                if (alongside is not null)
                {
                    alongside(chunk);
                    if (Interlocked.Decrement(ref chunk.Pending) == 0) { whenDone?.Invoke(chunk); pool.Add(chunk); }
                }
                progress?.Invoke(pass, reader.BytesConsumed);
            }
        }
        catch (InvalidOperationException) when (Volatile.Read(ref failure) is not null)
        {
            // A consumer failed and closed the queues under us: its exception is the one to report.
        }
        finally
        {
            foreach (var q in queues) if (!q.IsAddingCompleted) q.CompleteAdding();
            foreach (var t in threads) t.Join();
            foreach (var q in queues) q.Dispose();
        }
        if (failure is not null) throw new AggregateException(failureMessage, failure);
    }

    /// <summary>Pass 2. This thread reads and reconstructs (one reconstruction, classification and request log for every
    /// policy); each policy's thread plays the chunks' requests into its model. With one policy that is a two-stage
    /// pipeline on two cores.</summary>
    static (RequestReconstructor, SensitivityClassifier, ActorNames, RequestCounts) ReplayParallel(Func<IEventReader> open, PolicyRun[] runs, PreScan scan,
        ReplayOptions options, Action<int, long>? progress)
    {
        using var reader = open();
        Func<int, string?> commOf = id => id >= 0 && id < reader.Comms.Count ? reader.Comms[id] : null;
        var sites = reader.CallSites;
        Func<int, string?> siteOf = id => sites is not null && id >= 0 && id < sites.Count ? sites[id] : null;
        var names = new ActorNames(commOf, siteOf, reader.Metadata.GfpFlags ?? Ingest.Canonical.GfpEras.Table(Ingest.Canonical.GfpEras.Latest));
        foreach (var run in runs) run.Machine.Entries.CommOf = commOf;
        using var log = options.RequestsOutput is { } ro ? new Results.RequestLog(ro, commOf, siteOf, runs.Select(r => r.Machine.Name).ToArray()) : null;
        // No allocation of the trace went to the page cache (most traces without filemap events): nothing to look up.
        var classifier = new SensitivityClassifier(options.Classify, commOf, scan.PageCacheAllocations > 0 ? scan.IsPageCache : null);
        Results.RequestLog.Staged? staging = null;
        var window = options.Window;
        var counts = new RequestCounts(classifier);
        var recon = new RequestReconstructor([], scan.KeepAllocated, (in AllocRequest r, out ClassReason why) =>
        {
            var c = classifier.Classify(in r, out why);
            staging?.Add(in r, c, why, keep: window is null || window.Contains(r.TsNs));
            return c;
        })
        {
            PfnLimit = runs.Length > 0 ? runs[0].Machine.PfnLimit : MachineLimits.MaxPfn,
            WindowFromNs = window?.FromNs ?? long.MinValue,
            WindowToNs = window?.ToNs ?? long.MaxValue,
            AtWindowStart = window is null ? null : () => counts.Start = counts.Read(),
            AtWindowEnd = window is null ? null : () => counts.End = counts.Read(),
        };
        counts.Recon = recon;
        // With a request log, each chunk's rows wait for every policy's cost of each request; the last policy done
        // with a chunk appends them, and chunks complete in order (each policy plays them in order).
        var logLock = new object();
        RunChunks(reader, 2, progress, "a policy replay failed",
            beforeHandOff: chunk =>
            {
                if (log is not null) { staging = chunk.Requests ??= new Results.RequestLog.Staged(); staging.Clear(); }
                recon.Add(chunk.Events.AsSpan(0, chunk.Count), chunk.Batch);
                if (log is not null)
                {
                    var b = chunk.Batch;
                    b.Policies = runs.Length;
                    int need = staging!.Count * runs.Length;
                    if (b.AllocCosts is null || b.AllocCosts.Length < need) b.AllocCosts = new double[Math.Max(need, 1024)];
                }
            },
            alongside: null,
            consumers: runs.Select(run => ("replay " + run.Spec.Name, (Action<SharedChunk>)(chunk => Consume(run, chunk, options.IntervalNs, window)))).ToArray(),
            whenDone: log is null ? null : chunk => { lock (logLock) log.Append(chunk.Requests!, chunk.Batch.AllocCosts); });
        foreach (var run in runs) if (window is null || run.WindowStart is not null) Sample(run, long.MaxValue, final: true);
        return (recon, classifier, names, counts);
    }

    static void Consume(PolicyRun run, SharedChunk chunk, long interval, ReplayWindow? window)
    {
        var player = run.Player;
        player.Begin(chunk.Batch);
        var events = chunk.Events.AsSpan(0, chunk.Count);
        for (int i = 0; i < events.Length; i++)
        {
            ref readonly var e = ref events[i];
            if (window is not null)
            {
                // Past the window nothing more is replayed; before it, the model runs but nothing is counted or sampled.
                if (e.TsNs > window.ToNs) { run.WindowClosed = true; break; }
                if (run.WindowStart is null)
                {
                    if (e.TsNs < window.FromNs) { player.Event(i, in e); run.LastTs = e.TsNs; continue; }
                    run.WindowStart = WindowSnapshot.Of(run.Machine);
                    run.Machine.Attribution.Counting = true;
                }
            }
            if (interval > 0 && e.TsNs >= run.NextSample) Sample(run, e.TsNs, final: false, interval);
            player.Event(i, in e);
            run.LastTs = e.TsNs;
        }
    }

    /// <summary>Cells of the physical-memory map per sample: enough for a chart row, small enough for every interval.</summary>
    const int PageblockMapBuckets = 256;

    static void Sample(PolicyRun run, long ts, bool final, long interval = 0)
    {
        if (run.NextSample == long.MinValue && !final) { run.NextSample = ts >= long.MaxValue - interval ? long.MaxValue : ts + interval; return; }
        var m = new MetricValues();
        MachineMetrics.AddTo(run.Machine, m);
        m[Metrics.EstimatedNs] = run.Machine.EstimatedNs;
        if (run.WindowStart is { } w)
        {
            WindowSnapshot.Subtract(m, w.Metrics);
            m[Metrics.EstimatedNs] -= w.EstimatedNs;
        }
        long t = final ? run.LastTs : run.NextSample;
        foreach (var metric in Metrics.Series)
            if (m.TryGetValue(metric.Name, out double v)) run.Series.Add(new SeriesPoint(run.Machine.Name, t, metric.Name, v));
        if (run.Machine.Policy.Layout != FreetypeLayout.None)
        {
            var map = PageblockMap.Of(run.Machine.Allocator, PageblockMapBuckets);
            for (int b = 0; b < map.Length; b++) run.Pageblocks.Add(new PageblockCell(run.Machine.Name, t, b, map[b]));
        }
        // Straight to the first interval boundary after ts: a gap of many intervals (or a hostile timestamp) is one
        // step, never a loop over the intervals it skips.
        if (!final) run.NextSample = ts >= long.MaxValue - interval ? long.MaxValue
            : run.NextSample + ((ts - run.NextSample) / interval + 1) * interval;
    }



    /// <summary>The allocator rules of the traced kernel's era, unless the caller chose them.</summary>
    static ReplayOptions WithKernelRules(ReplayOptions o, ReplayResult r)
    {
        var v = KernelEra.Parse(r.KernelRelease);
        if (v is null && (o.Fallback is null || o.Pcp is null))
            r.Assumptions.Add("kernel release unknown: the current (v6.15+) fallback and (v6.7+) pcp rules are used");
        var fallback = o.Fallback ?? (v is { } a ? KernelEra.Fallback(a) : FallbackRules.ClaimThenSteal);
        var pcp = o.Pcp ?? (v is { } b ? KernelEra.Pcp(b) : PcpRules.V67);
        r.FallbackRules = fallback;
        r.PcpRules = pcp;
        bool halfHighMin = v is { } c ? KernelEra.FreeHighAboveHalfHighMin(c) : o.Allocator.FreeHighAboveHalfHighMin;
        return o with
        {
            Allocator = o.Allocator with
            {
                Buddy = o.Allocator.Buddy with { Fallback = fallback }, Pcp = pcp, FreeHighAboveHalfHighMin = halfHighMin,
            },
        };
    }
}
