using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Fidelity;
using Xunit;

namespace AsiTrace.Tests.Replay;

/// <summary>
/// The fidelity corpus (sample-traces/corpus, recorded by its record-corpus.sh): workloads on this host's 6.18 and on
/// Debian's 6.1 and 6.12 under qemu with 1, 2 and 4 vCPUs, each replayed under noasi and held to the targets of
/// docs/model.md §9. Misses are listed with their measured error (docs/fidelity-corpus.md), so the test fails when one
/// changes; a recording whose every check is vacuous informs nothing and fails.
/// </summary>
public class CorpusFidelityTests
{
    static string Root => TestPaths.Sample("corpus");

    internal static List<string> Names() =>
        Directory.GetDirectories(Root).Where(d => Directory.Exists(Path.Combine(d, "snapshot-start")))
            .Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> Recordings() => new(Names());

    static readonly Dictionary<(string, PcpSurplus), ReplayResult> Cache = new();

    internal static ReplayResult Replay(string name, PcpSurplus surplus = PcpSurplus.LeastDrawn)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue((name, surplus), out var cached)) return cached;
            string dir = Path.Combine(Root, name);
            var r = ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
            {
                StartSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
                EndSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-end")),
                PcpSurplus = surplus,
            });
            Cache[(name, surplus)] = r;
            return r;
        }
    }

    /// <summary>Known misses: recording, check, and the error measured when it was listed.</summary>
    static readonly (string Dir, string Check, double Error)[] KnownMisses =
    [
        ("h618-compile", "mm_page_alloc_zone_locked", 1.000),
        ("h618-forkexec", "mm_page_alloc_zone_locked", 0.800),
        ("h618-smallfiles", "mm_page_alloc_zone_locked", 0.187),
        ("h618-stream", "mm_page_alloc_zone_locked", 0.182),
        ("h618-stream", "mm_page_pcpu_drain", 0.746),
        ("q61-anon-thp-4cpu", "mm_page_alloc_zone_locked", 0.179),
        ("q61-anon-thp-4cpu", "pcp_count_DMA32_cpu2", 0.141),
        ("q61-anon-thp-4cpu", "pcp_count_DMA32_cpu3", 0.372),
        ("q61-anon-thp-4cpu", "free_blocks_distance_DMA32", 0.172),
        ("q61-pressure-2cpu", "mm_page_alloc_zone_locked", 0.718),
        ("q61-pressure-2cpu", "mm_page_pcpu_drain", 0.672),
        ("q61-pressure-2cpu", "free_pages_DMA", 0.027),
        ("q61-pressure-2cpu", "pcp_count_DMA_cpu1", 1.000),
        ("q61-pressure-2cpu", "free_pages_DMA32", 0.046),
        ("q61-pressure-2cpu", "pcp_count_DMA32_cpu0", 0.853),
        ("q61-pressure-2cpu", "free_blocks_distance_DMA", 0.625),
        ("q61-pressure-2cpu", "free_blocks_distance_DMA32", 0.311),
        ("q61-smallfiles-2cpu", "free_blocks_distance_DMA32", 0.129),
        ("q612-forkexec-2cpu", "mm_page_alloc_zone_locked", 0.154),
        ("q612-forkexec-2cpu", "pcp_count_DMA32_cpu0", 0.231),
        ("q612-forkexec-2cpu", "pcp_count_DMA32_cpu1", 0.258),
        ("q612-forkexec-2cpu", "free_blocks_distance_DMA32", 0.186),
        ("q612-fragment-2cpu", "mm_page_pcpu_drain", 0.113),
        ("q612-fragment-2cpu", "free_blocks_distance_DMA32", 0.167),
        ("q612-pressure-4cpu", "pcp_count_DMA32_cpu0", 0.647),
        ("q612-pressure-4cpu", "pcp_count_DMA32_cpu3", 0.466),
        ("q612-pressure-4cpu", "free_blocks_distance_DMA32", 0.200),
        ("q612-stream-4cpu", "pcp_count_DMA32_cpu3", 0.226),
        ("q612-stream-4cpu", "free_blocks_distance_DMA32", 0.435),
    ];

    [Theory]
    [MemberData(nameof(Recordings))]
    public void noasi_replay_of_each_corpus_recording_meets_the_targets_or_the_miss_is_listed(string name)
    {
        var r = Replay(name);
        Assert.True(r.Events > 0);
        var held = r.Fidelity.Where(f => f.Tolerance is not null).ToList();
        Assert.Contains(held, f => f.Verdict is "pass" or "fail");
        FidelityMisses.AssertOnlyListedMissesFail(r, name, KnownMisses);
        // Requests the model could not place at all: none. (On the pressure recordings the kernel compacted memory to
        // serve slab's order-2 attempts; the model, which does not compact, takes slab's order-0 retry instead.)
        Assert.Equal(0, r.Anomalies.GetValueOrDefault("model_allocation_failures_noasi"));
        if (name.Contains("pressure", StringComparison.Ordinal)) Assert.True(r.Anomalies.GetValueOrDefault("slab_retries_at_order0_noasi") > 0);
        // 6.18 frees some pages with no mm_page_free (page-table pages and GFP_NOWAIT pages of short-lived tasks; up
        // to 2.9 % of allocations here); the reconstruction releases them at the pfn's next allocation (docs/model.md §2).
        Assert.True(r.Anomalies.GetValueOrDefault("alloc_of_live_pfn") <= r.Metrics["noasi"]["allocations"] / 20,
            $"{r.Anomalies.GetValueOrDefault("alloc_of_live_pfn")} allocations of live pfns");
    }

    [Fact]
    public void the_corpus_spans_the_kernels_workloads_and_cpu_counts_it_is_meant_to()
    {
        var names = Names();
        Assert.True(names.Count >= 12, $"{names.Count} recordings");
        var kernels = new HashSet<string>();
        var cpusByKernel = new Dictionary<string, HashSet<int>>();
        foreach (var n in names)
        {
            var snap = MachineSnapshot.Load(Path.Combine(Root, n, "snapshot-start"));
            string release = snap.KernelRelease!;
            string era = string.Join('.', release.Split('.', '-').Take(2));
            kernels.Add(era);
            int cpus = int.Parse(File.ReadAllText(Path.Combine(Root, n, "snapshot-start", "nproc")).Trim());
            (cpusByKernel.TryGetValue(era, out var s) ? s : cpusByKernel[era] = new()).Add(cpus);
        }
        Assert.Contains("6.1", kernels);
        Assert.Contains("6.12", kernels);
        Assert.Contains("6.18", kernels);
        Assert.Equal(new[] { 1, 2, 4 }, cpusByKernel["6.1"].Order());
        Assert.Equal(new[] { 1, 2, 4 }, cpusByKernel["6.12"].Order());
        foreach (var w in new[] { "compile", "stream", "anon-thp", "forkexec", "smallfiles", "pressure" })
            Assert.Contains(names, n => n.Contains(w, StringComparison.Ordinal));
    }

    /// <summary>The count checks a starting-state rule can move: zone_locked, drains and pcp pages, where not vacuous.</summary>
    static double MeanCountError(IEnumerable<string> names, PcpSurplus surplus)
    {
        var errors = names.SelectMany(n => Replay(n, surplus).Fidelity)
            .Where(f => f.Verdict is "pass" or "fail" && (f.Name.StartsWith("mm_page_alloc_zone_locked", StringComparison.Ordinal)
                || f.Name.StartsWith("mm_page_pcpu_drain", StringComparison.Ordinal) || f.Name.StartsWith("pcp_count_", StringComparison.Ordinal)))
            .Select(f => f.RelativeError).ToList();
        return errors.Count == 0 ? 0 : errors.Average();
    }

    /// <summary>The corpus in two halves by name order (even and odd positions): a rule chosen on one is checked on the other.</summary>
    internal static (List<string> A, List<string> B) Halves()
    {
        var names = Names();
        return (names.Where((_, i) => i % 2 == 0).ToList(), names.Where((_, i) => i % 2 == 1).ToList());
    }

    [Fact]
    public void the_pcp_surplus_rule_chosen_on_one_half_of_the_corpus_is_checked_on_the_other()
    {
        var (a, b) = Halves();
        PcpSurplus[] rules = [PcpSurplus.LeastDrawn, PcpSurplus.ByDemand, PcpSurplus.Movable];
        var onA = rules.Select(r => MeanCountError(a, r)).ToArray();
        var onB = rules.Select(r => MeanCountError(b, r)).ToArray();
        string table = string.Join("; ", rules.Select((r, i) => $"{r}: A {onA[i]:P2} B {onB[i]:P2}"));
        // Chosen on half A: the rule with the smallest error there is the one the replay uses ...
        Assert.True(Array.IndexOf(onA, onA.Min()) == 0 && new ReplayOptions().PcpSurplus == rules[0], table);
        // ... and on half B, which did not choose it, it is still the best of the three.
        Assert.True(Array.IndexOf(onB, onB.Min()) == 0, table);
        // The figures docs/fidelity-corpus.md states, so the test fails when they change.
        for (int i = 0; i < rules.Length; i++)
        {
            Assert.True(Math.Abs(onA[i] - StatedHalfErrors[i, 0]) < 0.0005, table);
            Assert.True(Math.Abs(onB[i] - StatedHalfErrors[i, 1]) < 0.0005, table);
        }
    }

    /// <summary>Mean error of the count checks (zone_locked, drains, pcp pages; not vacuous) per rule (least drawn, by
    /// demand, movable) on half A and half B.</summary>
    static readonly double[,] StatedHalfErrors = { { 0.2113, 0.0786 }, { 0.3095, 0.1711 }, { 0.2773, 0.1284 } };
}
