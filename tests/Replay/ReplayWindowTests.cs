using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;
using AsiTrace.Tests.Cli;
using Xunit;

namespace AsiTrace.Tests.Replay;

/// <summary>
/// <c>replay --window</c>: the model is warmed through the events before the window and counts only inside it, so two
/// windows that split the trace add up to the whole replay, and a window's attribution sums to its own totals.
/// </summary>
public class ReplayWindowTests
{
    static readonly List<PolicySpec> Policies = PolicySpec.TryParseList("noasi,asi-rfc,asi-freetypes", out var p, out _) ? p : throw new InvalidOperationException();

    static ReplayResult Replay(ReplayWindow? window)
    {
        string root = TestPaths.Sample("churn");
        return ReplayRunner.Run(() => TraceOpener.Open(root, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(root, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(root, "snapshot-end")),
            Policies = Policies,
            Window = window,
        });
    }

    static readonly string[] Counts =
    [
        Metrics.Allocations.Name, Metrics.Frees.Name, Metrics.AsiExits.Name, Metrics.AsiExitsZeroing.Name, Metrics.BytesZeroed.Name,
        Metrics.ZoneLocked.Name, Metrics.PcpuDrain.Name, Metrics.TlbMisses.Name, Metrics.IpisSent.Name, Metrics.PageblockFlips.Name,
        Metrics.AllocationsSensitive.Name, Metrics.KernelEntries.Name,
    ];

    [Fact]
    public void two_windows_that_split_the_trace_add_up_to_the_whole()
    {
        var whole = Replay(null);
        // Split where asi-rfc has paid half its exits (churn's work is bunched in its first second).
        double half = whole.Metrics["asi-rfc"][Metrics.AsiExits.Name] / 2;
        long t0 = whole.TraceStartNs, mid = whole.Series.Where(s => s.Policy == "asi-rfc" && s.Metric == Metrics.AsiExits.Name && s.Value >= half).Min(s => s.TsNs);
        // Offsets from the trace start for the first window, trace time for the second: both forms of an end.
        var first = Replay(new ReplayWindow(null, false, mid - t0, true, "..mid"));
        var second = Replay(new ReplayWindow(mid + 1, false, null, false, "mid+1ns.."));
        Assert.Equal(mid, first.WindowEndNs);
        Assert.Equal(mid + 1, second.WindowStartNs);
        foreach (var policy in whole.Metrics.Keys)
        {
            foreach (var name in Counts)
            {
                double a = first.Metrics[policy][name], b = second.Metrics[policy][name], all = whole.Metrics[policy][name];
                Assert.True(a + b == all, $"{policy} {name}: {a} + {b} != {all}");
            }
            double ns = first.EstimatedNs[policy] + second.EstimatedNs[policy];
            Assert.True(Math.Abs(ns - whole.EstimatedNs[policy]) <= 1e-9 * whole.EstimatedNs[policy], $"{policy}: {ns} vs {whole.EstimatedNs[policy]}");
        }
        // Both halves have work of their own: the split is not vacuous.
        Assert.True(first.Metrics["asi-rfc"][Metrics.AsiExits.Name] > 100 && second.Metrics["asi-rfc"][Metrics.AsiExits.Name] > 100);
        // States are the machine's at the window's end: the second window ends where the whole replay does.
        Assert.Equal(whole.Metrics["noasi"][Metrics.FreePages.Name], second.Metrics["noasi"][Metrics.FreePages.Name]);
        // The first window stopped the model early: no end-of-trace fidelity, and the run says why.
        Assert.Empty(first.Fidelity);
        Assert.NotEmpty(second.Fidelity);
        Assert.Contains(first.Assumptions, a => a.Contains("warm-up", StringComparison.Ordinal) && a.Contains("not compared", StringComparison.Ordinal));
    }

    [Fact]
    public void a_windows_attribution_and_series_cover_the_window_only()
    {
        var whole = Replay(null);
        long t0 = whole.TraceStartNs;
        var w = Replay(new ReplayWindow(300_000_000, true, 800_000_000, true, "0.3s..0.8s"));
        foreach (var (policy, metrics) in w.Metrics)
            foreach (var by in AttributionTable.Dimensions)
            {
                double exits = w.Attribution.Where(a => a.Policy == policy && a.By == by && a.Metric == Metrics.AsiExits.Name).Sum(a => a.Value);
                Assert.Equal(metrics[Metrics.AsiExits.Name], exits);
                double ns = w.Attribution.Where(a => a.Policy == policy && a.By == by && a.Metric == Metrics.EstimatedNs.Name).Sum(a => a.Value);
                Assert.True(Math.Abs(ns - w.EstimatedNs[policy]) <= 1e-9 * Math.Max(1, w.EstimatedNs[policy]));
            }
        // Work before the window (the policies' set-up) and after it (the trace end) is not in it.
        Assert.DoesNotContain(w.Attribution, a => a.Key is "(replay start)" or "(trace end)");
        Assert.True(w.Metrics["asi-rfc"][Metrics.AsiExits.Name] < whole.Metrics["asi-rfc"][Metrics.AsiExits.Name]);
        Assert.All(w.Series, s => Assert.InRange(s.TsNs, t0 + 300_000_000, t0 + 800_000_000));
        Assert.True(w.Metrics["asi-rfc"][Metrics.AsiExits.Name] > 100);
        // Cumulative series start from the window: the last point is the window's total.
        var last = w.Series.Where(s => s.Policy == "asi-rfc" && s.Metric == Metrics.AsiExits.Name).MaxBy(s => s.TsNs);
        Assert.Equal(w.Metrics["asi-rfc"][Metrics.AsiExits.Name], last.Value);
        Assert.True(w.Workload!.CpuNs < whole.Workload!.CpuNs);
    }

    [Fact]
    public void the_cli_takes_a_window_and_refuses_a_bad_one()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "w");
        var (code, stdout, err) = CliTests.Run("replay", TestPaths.Sample("churn"), "-o", outDir, "--policy", "noasi,asi-rfc", "--window", "0.5s..1.5s", "--json");
        Assert.True(code == 0, err);
        var root = System.Text.Json.JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(root.GetProperty("trace_start_ns").GetInt64() + 500_000_000, root.GetProperty("window_start_ns").GetInt64());
        Assert.Contains(root.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.StartsWith("--window 0.5s..1.5s", StringComparison.Ordinal));
        Assert.Equal(2, CliTests.Run("replay", TestPaths.Sample("churn"), "-o", outDir, "--window", "2s..1s").Code);
        Assert.Equal(2, CliTests.Run("replay", TestPaths.Sample("churn"), "-o", outDir, "--window", "soon").Code);
        string report = Path.Combine(TestPaths.TempDir(), "r");
        var (rc, _, rerr) = CliTests.Run("report", outDir, "-o", report, "--window", "0.6s..0.9s");
        Assert.True(rc == 0, rerr);
        Assert.Contains("clipped to --window 0.6s..0.9s", File.ReadAllText(Path.Combine(report, "summary.md")));
    }
}
