using System.Text.Json;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Record;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;
using Xunit;
using Xunit.Abstractions;

namespace AsiTrace.Tests.Replay;

/// <summary>A fact that needs the recordings of <c>sample-traces/published/record-published.sh</c>: skipped, with the
/// reason, unless <c>ASITRACE_PUBLISHED</c> names their directory (.ci/run makes them where it can record).</summary>
public sealed class RequiresPublishedRecordingsFactAttribute : FactAttribute
{
    public RequiresPublishedRecordingsFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("ASITRACE_PUBLISHED") is not { Length: > 0 } d || !Directory.Exists(d))
            Skip = "ASITRACE_PUBLISHED is not set to the output of sample-traces/published/record-published.sh (root, tracefs, fio, linux-source-6.1; .ci/run makes it)";
    }
}

/// <summary>
/// Real recordings made here with <c>asitrace record --baseline</c>, replayed under the configurations whose costs
/// were published (docs/model.md §6.3): the committed small FIO recording for the state machine's rules, and the full
/// recordings of record-published.sh against the published figures.
/// </summary>
public class PublishedWorkloadTests(ITestOutputHelper output)
{
    static ReplayResult ReplayRecording(string dir, string policies, params string[] knobs)
    {
        var knobSet = new PolicyKnobs();
        foreach (var k in knobs) knobSet = knobSet.With(k);
        var info = RecordInfo.Load(dir);
        return ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
        {
            Policies = policies.Split(',').Select(p => { Assert.True(PolicySpec.TryParse(p, out var s)); return s; }).ToList(),
            StartSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-end")),
            BaselineCpuNs = info?.Baseline?.CpuNs, RecorderTids = info?.UntracedTids ?? [], Knobs = knobSet, IntervalNs = 0,
        });
    }

    static double Throughput(double overheadPct) => (100 / (100 + overheadPct) - 1) * 100;

    [Fact]
    public void committed_fio_recording_exits_at_most_once_per_kernel_entry()
    {
        var r = ReplayRecording(TestPaths.Sample("fio-randread"), "noasi,asi-rfc,asi-aug2025");
        Assert.Contains(r.Assumptions, a => a.StartsWith("kernel entries: the traced system calls and user page faults", StringComparison.Ordinal));
        Assert.Equal("baseline", r.Workload!.Source);
        Assert.Equal(195_341_000, r.Workload.CpuNs);
        double reads = r.M("noasi", "file_copies");
        Assert.True(reads > 8000, $"{reads} reads");
        foreach (var p in new[] { "asi-rfc", "asi-aug2025" })
            Assert.True(r.M(p, "asi_exits") <= r.M(p, "kernel_entries"), $"{p}: more exits than kernel entries");
        // RFC v2 unmaps the page cache: each pread's copy exits, once.
        Assert.Equal(reads, r.M("asi-rfc", "asi_exits_page_cache"));
        // The prototype copies through the ephmap instead: no page-cache exit, one ephemeral mapping per page copied.
        Assert.Equal(0, r.M("asi-aug2025", "asi_exits_page_cache"));
        Assert.Equal(r.M("asi-aug2025", "file_copy_pages"), r.M("asi-aug2025", "ephmap_pages"));
        // The overhead is the extra CPU time over the workload's measured CPU time.
        double extra = r.EstimatedNs["asi-rfc"] - r.EstimatedNs["noasi"];
        Assert.Equal(extra / r.Workload.CpuNs * 100, r.M("asi-rfc", "overhead_pct"), 9);
        Assert.Equal(0, r.M("noasi", "overhead_pct"));
    }

    [RequiresPublishedRecordingsFact]
    public void published_fio_and_kernel_build_costs_lie_within_the_models_ranges()
    {
        // Each published figure must lie within what the model gives over its constants' stated ranges (docs/costs.md);
        // the point estimates are printed, not held to a band: three recordings of the same workloads on this VM gave
        // kernel-build points from +4.7 % to +8.2 % (README), more than a ±3-point band allows.
        string dir = Environment.GetEnvironmentVariable("ASITRACE_PUBLISHED")!;
        var fio = ReplayRecording(Path.Combine(dir, "fio-randread"), "noasi,asi-rfc,asi-aug2025");
        var kb = ReplayRecording(Path.Combine(dir, "kernel-build"), "noasi,asi-aug2025");
        var kbNoIbpb = ReplayRecording(Path.Combine(dir, "kernel-build"), "noasi,asi-aug2025", "Ibpb=false");
        double rfc = Throughput(fio.M("asi-rfc", "overhead_pct")), aug = Throughput(fio.M("asi-aug2025", "overhead_pct"));
        double build = kb.M("asi-aug2025", "overhead_pct"), buildNoIbpb = kbNoIbpb.M("asi-aug2025", "overhead_pct");
        output.WriteLine($"FIO asi-rfc {rfc:F1} % (published about -70 %), asi-aug2025 {aug:F1} % (-13.1 %); kernel build asi-aug2025 +{build:F1} % (+7.6 %), without IBPB +{buildNoIbpb:F1} % (+5.0 %)");
        // Throughput falls as the overhead rises: the high end of the overhead is the low end of the throughput.
        Assert.InRange(-70, Throughput(fio.M("asi-rfc", "overhead_high_pct")), Throughput(fio.M("asi-rfc", "overhead_low_pct")));
        Assert.InRange(-13.1, Throughput(fio.M("asi-aug2025", "overhead_high_pct")), Throughput(fio.M("asi-aug2025", "overhead_low_pct")));
        Assert.InRange(7.6, kb.M("asi-aug2025", "overhead_low_pct"), kb.M("asi-aug2025", "overhead_high_pct"));
        Assert.InRange(5.0, kbNoIbpb.M("asi-aug2025", "overhead_low_pct"), kbNoIbpb.M("asi-aug2025", "overhead_high_pct"));
        // What the published measurements order, the model orders too.
        Assert.True(rfc < aug, "RFC v2 must cost FIO more than the prototype's ephmap");
        Assert.True(build > buildNoIbpb);
    }
}
