namespace AsiTrace.Replay.Results;

/// <summary>A metric of <c>totals.parquet</c> / <c>series.parquet</c>: its name is part of the results contract.</summary>
/// <param name="Name">snake_case, as the files and <c>replay --json</c> carry it.</param>
/// <param name="Unit">what one unit counts: "ns", "pages", "bytes", "events", …</param>
public sealed record Metric(string Name, string Unit, string Description)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every metric a replay writes, by name. Report and Cli name metrics only through here, so a renamed metric is a
/// compile error instead of a chart of zeros; a name read from a file or the command line is checked with
/// <see cref="Get"/>, which rejects unknown names. Per-zone, per-CPU pcp figures form the two name families of
/// <see cref="IsKnown"/>.
/// </summary>
public static class Metrics
{
    static readonly List<Metric> _all = new();
    static readonly Dictionary<string, Metric> _byName = new(StringComparer.Ordinal);

    static Metric Def(string name, string unit, string description)
    {
        var m = new Metric(name, unit, description);
        _all.Add(m);
        _byName.Add(name, m);
        return m;
    }

    // Cost totals.
    public static readonly Metric EstimatedNs = Def("estimated_ns", "ns", "modelled CPU time of the replayed work on all CPUs");
    public static readonly Metric OverheadPct = Def("overhead_pct", "%", "the policy's extra CPU time over noasi's, as a share of the workload's measured CPU time");
    public static readonly Metric WorkloadCpuNs = Def("workload_cpu_ns", "ns", "the workload's measured CPU time during the trace (the overhead's denominator)");
    public static readonly Metric OverheadLowPct = Def("overhead_low_pct", "%", "the overhead with every cost constant at the end of its range that lowers it (docs/costs.md)");
    public static readonly Metric OverheadHighPct = Def("overhead_high_pct", "%", "the overhead with every cost constant at the end of its range that raises it");
    public static readonly Metric EstimatedLowNs = Def("estimated_low_ns", "ns", "the CPU time with every cost constant at the low end of its range");
    public static readonly Metric EstimatedHighNs = Def("estimated_high_ns", "ns", "the CPU time with every cost constant at the high end of its range");
    public static readonly Metric LatencyLowNs = Def("latency_low_ns", "ns", "the latency with every cost constant at the low end of its range");
    public static readonly Metric LatencyHighNs = Def("latency_high_ns", "ns", "the latency with every cost constant at the high end of its range");
    public static readonly Metric KernelEntries = Def("kernel_entries", "entries", "kernel entries of user tasks (traced or inferred)");
    public static readonly Metric LatencyNs = Def("latency_ns", "ns", "modelled time on the CPUs that issued the work (flush initiators wait; targets' handling not counted)");
    public static readonly Metric CostCopyNs = Def("cost_copy_ns", "ns", "page-cache ↔ user copies and copy-on-write copies");
    public static readonly Metric CostZeroingNs = Def("cost_zeroing_ns", "ns", "clearing pages");
    public static readonly Metric CostTlbNs = Def("cost_tlb_ns", "ns", "the flushes and IPIs the trace shows");
    public static readonly Metric CostAsiTransitionsNs = Def("cost_asi_transitions_ns", "ns", "asi_exit + asi_enter with transition flushes");
    public static readonly Metric CostMermapNs = Def("cost_mermap_ns", "ns", "mermap mappings and local flushes");
    public static readonly Metric CostModelFlushesNs = Def("cost_model_flushes_ns", "ns", "shootdowns the model issued, all CPUs");
    public static readonly Metric CostPageTablePagesNs = Def("cost_page_table_pages_ns", "ns", "page-table pages allocated by splits");
    public static readonly Metric CostTlbMissesNs = Def("cost_tlb_misses_ns", "ns", "page walks after TLB misses");

    // The request stream.
    public static readonly Metric Allocations = Def("allocations", "requests", "allocations replayed");
    public static readonly Metric Frees = Def("frees", "requests", "frees replayed");
    public static readonly Metric FreesOfPreexistingAllocations = Def("frees_of_preexisting_allocations", "requests", "frees of pages allocated before the trace");
    public static readonly Metric BatchedFreeDuplicates = Def("batched_free_duplicates", "events", "mm_page_free_batched events that repeat an mm_page_free");
    public static readonly Metric AllocationsNonsensitive = Def("allocations_nonsensitive", "requests", "allocations classified nonsensitive");
    public static readonly Metric AllocationsSensitive = Def("allocations_sensitive", "requests", "allocations classified sensitive");
    public static readonly Metric AllocationsUnmapped = Def("allocations_unmapped", "requests", "allocations classified unmapped");
    public static readonly Metric AllocationsClassifiedByRule = Def("allocations_classified_by_rule", "requests", "classified by a --classify rule");
    public static readonly Metric AllocationsClassifiedHardwall = Def("allocations_classified_hardwall", "requests", "classified sensitive for __GFP_HARDWALL");
    public static readonly Metric AllocationsClassifiedPageCache = Def("allocations_classified_page_cache", "requests", "classified sensitive because the page cache took them");

    // Zeroing, flips, direct-map changes.
    public static readonly Metric BytesZeroed = Def("bytes_zeroed", "bytes", "bytes cleared");
    public static readonly Metric PagesZeroedForFlips = Def("pages_zeroed_for_flips", "pages", "pages cleared because their pageblock became nonsensitive");
    public static readonly Metric PageblockFlips = Def("pageblock_flips", "pageblocks", "pageblocks whose sensitivity changed");
    public static readonly Metric PageblockFlipsToNonsensitive = Def("pageblock_flips_to_nonsensitive", "pageblocks", "pageblocks that became nonsensitive");
    public static readonly Metric PageblockFlipsToSensitive = Def("pageblock_flips_to_sensitive", "pageblocks", "pageblocks that became sensitive");
    public static readonly Metric UnmappedPageblocks = Def("unmapped_pageblocks", "pageblocks", "pageblocks removed from the direct map for __GFP_UNMAPPED");
    public static readonly Metric PerAllocationUnmaps = Def("per_allocation_unmaps", "allocations", "allocations removed from the direct map one by one");
    public static readonly Metric UnmappedPageblocksReturned = Def("unmapped_pageblocks_returned", "pageblocks", "unmapped pageblocks given back to the direct map");
    public static readonly Metric DirectMapSplits1G = Def("direct_map_splits_1g", "splits", "1 GiB direct-map leaves split");
    public static readonly Metric DirectMapSplits2M = Def("direct_map_splits_2m", "splits", "2 MiB direct-map leaves split");
    public static readonly Metric RestrictedMapSplits2M = Def("restricted_map_splits_2m", "splits", "2 MiB restricted-map leaves split");
    public static readonly Metric PageTablePages = Def("page_table_pages", "pages", "page-table pages allocated by splits");
    public static readonly Metric DirectMap4kPages = Def("direct_map_4k_pages", "leaves", "4 KiB leaves of the direct map (DirectMap4k / 4)");
    public static readonly Metric DirectMap2mPages = Def("direct_map_2m_pages", "leaves", "2 MiB leaves of the direct map");
    public static readonly Metric DirectMap1gPages = Def("direct_map_1g_pages", "leaves", "1 GiB leaves of the direct map");
    public static readonly Metric RestrictedMap4kPages = Def("restricted_map_4k_pages", "leaves", "4 KiB leaves of the restricted map (ASI only)");
    public static readonly Metric RestrictedMap2mPages = Def("restricted_map_2m_pages", "leaves", "2 MiB leaves of the restricted map (ASI only)");

    // Flushes and TLB.
    public static readonly Metric KernelRangeFlushes = Def("kernel_range_flushes", "calls", "flush_tlb_kernel_range() calls the model made");
    public static readonly Metric KernelRangeFlushesSingle = Def("kernel_range_flushes_single", "calls", "of those, flushed page by page");
    public static readonly Metric KernelRangeFlushesFull = Def("kernel_range_flushes_full", "calls", "of those, above the single-page ceiling (full flush)");
    public static readonly Metric TlbFlushAll = Def("tlb_flush_all", "calls", "full flushes everywhere (splits)");
    public static readonly Metric IpisSent = Def("ipis_sent", "IPIs", "flush IPIs the model sent");
    public static readonly Metric IpisReceived = Def("ipis_received", "IPIs", "flush IPIs the model's CPUs handled");
    public static readonly Metric TlbMisses = Def("tlb_misses", "walks", "page walks");
    public static readonly Metric TlbAccessesUnrestricted = Def("tlb_accesses_unrestricted", "loads", "kernel loads in the unrestricted address space");
    public static readonly Metric TlbAccessesRestricted = Def("tlb_accesses_restricted", "loads", "kernel loads in the restricted address space");
    public static readonly Metric TlbMissesUnrestricted = Def("tlb_misses_unrestricted", "loads", "of the unrestricted loads, those that walked");
    public static readonly Metric TlbMissesRestricted = Def("tlb_misses_restricted", "loads", "of the restricted loads, those that walked");
    public static readonly Metric TlbMissesWalk4k = Def("tlb_misses_walk_4k", "walks", "walks ending at a 4 KiB leaf");
    public static readonly Metric TlbMissesWalk2m = Def("tlb_misses_walk_2m", "walks", "walks ending at a 2 MiB leaf");
    public static readonly Metric TlbMissesWalk1g = Def("tlb_misses_walk_1g", "walks", "walks ending at a 1 GiB leaf");

    // ASI transitions and the mermap.
    public static readonly Metric AsiExits = Def("asi_exits", "exits", "asi_exit transitions");
    public static readonly Metric AsiExitsPageCache = Def("asi_exits_page_cache", "exits", "exits to reach the page cache");
    public static readonly Metric AsiExitsZeroing = Def("asi_exits_zeroing", "exits", "exits to clear pages outside the restricted map");
    public static readonly Metric AsiExitsCow = Def("asi_exits_cow", "exits", "exits for copy-on-write copies");
    public static readonly Metric AsiExitsContextSwitch = Def("asi_exits_context_switch", "exits", "exits at context switches");
    public static readonly Metric AsiExitsOther = Def("asi_exits_other", "exits", "exits for other causes");
    public static readonly Metric AsiExitsInSyscalls = Def("asi_exits_in_syscalls", "exits", "exits paid by a system call's entry");
    public static readonly Metric AsiExitsInFaults = Def("asi_exits_in_faults", "exits", "exits paid by a user page fault's entry");
    public static readonly Metric AsiExitsInGuestExits = Def("asi_exits_in_guest_exits", "exits", "exits paid by a KVM guest exit");
    public static readonly Metric AsiExitsInInferredEntries = Def("asi_exits_in_inferred_entries", "exits", "exits paid by an entry the replay inferred");
    public static readonly Metric AsiExitsOutsideEntries = Def("asi_exits_outside_entries", "exits", "exits after a context switch, before the task's next entry");
    public static readonly Metric MermapPages = Def("mermap_pages", "pages", "pages mapped through the mermap");
    public static readonly Metric EphmapPages = Def("ephmap_pages", "pages", "pages mapped through the Aug 2025 ephmap");
    public static readonly Metric MermapLocalFlushes = Def("mermap_local_flushes", "flushes", "local flushes when a mermap window wrapped");

    // What the trace's own tlb_flush events show.
    public static readonly Metric TlbShootdownIpis = Def("tlb_shootdown_ipis", "IPIs", "traced flush IPIs received");
    public static readonly Metric TlbShootdownsSent = Def("tlb_shootdowns_sent", "events", "traced shootdowns sent");
    public static readonly Metric TlbFlushesFull = Def("tlb_flushes_full", "flushes", "traced full flushes");
    public static readonly Metric TlbFlushPagesSingle = Def("tlb_flush_pages_single", "pages", "pages of traced single-page flushes");

    // The allocator model.
    public static readonly Metric Extfrag = Def("extfrag", "events", "fallbacks to another migratetype (mm_page_alloc_extfrag)");
    public static readonly Metric ZoneLocked = Def("zone_locked", "events", "buddy allocations (mm_page_alloc_zone_locked)");
    public static readonly Metric PcpuDrain = Def("pcpu_drain", "events", "pages drained from pcp lists (mm_page_pcpu_drain)");
    public static readonly Metric FreePages = Def("free_pages", "pages", "free pages in the buddy");
    public static readonly Metric FreePagesIn2mBlocks = Def("free_pages_in_2m_blocks", "pages", "free pages in blocks of pageblock order or more");
    public static readonly Metric AllocsBelowLowWatermark = Def("allocs_below_low_watermark", "requests", "served while the zone was below its low watermark");
    public static readonly Metric AllocsBelowMinWatermark = Def("allocs_below_min_watermark", "requests", "served while the zone was below its min watermark");
    public static readonly Metric ModelAllocationFailures = Def("model_allocation_failures", "requests", "requests the allocator model could not place");
    public static readonly Metric FileCopies = Def("file_copies", "calls", "read()/write() copies of the page cache");
    public static readonly Metric FileCopyPages = Def("file_copy_pages", "pages", "pages those copies moved");
    public static readonly Metric CowCopies = Def("cow_copies", "pages", "copy-on-write copies");
    public static readonly Metric PcpDrainedOnFree = Def("pcp_drained_on_free", "pages", "pcp pages drained by frees above high (noasi)");
    public static readonly Metric PcpDrainedByDecay = Def("pcp_drained_by_decay", "pages", "pcp pages drained by decay_pcp_high (noasi)");

    /// <summary>How far one cost constant alone moves the overhead across its range, in points:
    /// <c>overhead_swing_{Constant}_pct</c> (the tornado chart).</summary>
    public static string OverheadSwing(string constant) => $"overhead_swing_{constant}_pct";

    /// <summary>The per-zone, per-CPU pcp figures at the end of the replay (noasi): <c>pcp_{zone}_cpu{n}_count</c>.</summary>
    public static string PcpCount(string zone, int cpu) => $"pcp_{zone}_cpu{cpu}_count";
    /// <summary><c>pcp_{zone}_cpu{n}_high</c>.</summary>
    public static string PcpHigh(string zone, int cpu) => $"pcp_{zone}_cpu{cpu}_high";

    public static IReadOnlyList<Metric> All => _all;
    /// <summary>The metrics the time series carries (cumulative values), in the order it writes them.</summary>
    public static IReadOnlyList<Metric> Series { get; } =
    [
        KernelRangeFlushes, IpisSent, IpisReceived, TlbMisses, AsiExits, AsiExitsPageCache, AsiExitsZeroing, AsiExitsContextSwitch,
        PageblockFlips, DirectMapSplits2M, DirectMapSplits1G, PageTablePages, DirectMap4kPages, DirectMap2mPages, DirectMap1gPages,
        RestrictedMap4kPages, RestrictedMap2mPages, BytesZeroed, FreePages, FreePagesIn2mBlocks, Extfrag, MermapLocalFlushes, EstimatedNs,
    ];

    static readonly HashSet<string> _states = [FreePages.Name, FreePagesIn2mBlocks.Name, DirectMap4kPages.Name, DirectMap2mPages.Name,
        DirectMap1gPages.Name, RestrictedMap4kPages.Name, RestrictedMap2mPages.Name];

    /// <summary>Does <paramref name="name"/> describe the machine's state at a moment (free pages, leaves of the maps, pcp
    /// lists) rather than a count or time that only grows? A <c>--window</c> reports states at its end and subtracts the
    /// rest at its start.</summary>
    public static bool IsState(string name) => _states.Contains(name) || IsPcpFamily(name);

    /// <summary>Does <paramref name="name"/> count things (events, pages, exits, bytes, ...), as opposed to a time in ns or a
    /// percentage? Counts are also written as integers (the results' <c>count</c> column).</summary>
    public static bool IsCount(string name) =>
        _byName.TryGetValue(name, out var m) ? m.Unit is not ("ns" or "%") : IsPcpFamily(name);

    /// <summary>The integer a count metric holds (null for times, percentages, and a value that is not a whole number).</summary>
    public static long? CountOf(string name, double value) =>
        IsCount(name) && value == Math.Floor(value) && Math.Abs(value) < 9e18 ? (long)value : null;

    /// <summary>Is <paramref name="name"/> a metric a replay writes (a fixed one, or one of the pcp families)?</summary>
    public static bool IsKnown(string name) => _byName.ContainsKey(name) || IsPcpFamily(name)
        || name.StartsWith("overhead_swing_", StringComparison.Ordinal) && name.EndsWith("_pct", StringComparison.Ordinal);

    static bool IsPcpFamily(string name) =>
        name.StartsWith("pcp_", StringComparison.Ordinal) && (name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_high", StringComparison.Ordinal))
        && name.Contains("_cpu", StringComparison.Ordinal);

    /// <summary>The metric called <paramref name="name"/>; an unknown name is an error that lists the known ones.</summary>
    public static Metric Get(string name) => _byName.TryGetValue(name, out var m) ? m
        : throw new KeyNotFoundException($"unknown metric '{name}'; metrics: {string.Join(", ", _all.Select(x => x.Name))}");
}
