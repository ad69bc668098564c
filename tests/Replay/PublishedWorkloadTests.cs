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
    public void published_fio_and_kernel_build_costs_are_reproduced_within_the_targets()
    {
        string dir = Environment.GetEnvironmentVariable("ASITRACE_PUBLISHED")!;
        var fio = ReplayRecording(Path.Combine(dir, "fio-randread"), "noasi,asi-rfc,asi-aug2025");
        double rfc = Throughput(fio.M("asi-rfc", "overhead_pct")), aug = Throughput(fio.M("asi-aug2025", "overhead_pct"));
        var kb = ReplayRecording(Path.Combine(dir, "kernel-build"), "noasi,asi-aug2025");
        var kbNoIbpb = ReplayRecording(Path.Combine(dir, "kernel-build"), "noasi,asi-aug2025", "Ibpb=false");
        double build = kb.M("asi-aug2025", "overhead_pct"), buildNoIbpb = kbNoIbpb.M("asi-aug2025", "overhead_pct");
        output.WriteLine($"FIO asi-rfc {rfc:F1} % (published about -70 %), asi-aug2025 {aug:F1} % (-13.1 %); kernel build asi-aug2025 +{build:F1} % (+7.6 %), without IBPB +{buildNoIbpb:F1} % (+5.0 %)");
        Assert.InRange(rfc, -80, -60);        // RFC v2, FIO 4 KiB reads: about -70 %, ±10 points
        Assert.InRange(aug, -18.1, -8.1);     // Aug 2025 prototype, FIO: -13.1 %, ±5 points
        Assert.InRange(buildNoIbpb, 2, 8);    // Aug 2025 prototype, kernel build without IBPB: +5.0 %, ±3 points
        // With IBPB the model gives about twice the published +7.6 % (README: IBPB's cost is an estimate); reported above.
        Assert.True(build > buildNoIbpb);
    }
}
