using System.Text.Json;
using AsiTrace.Replay.Results;
using AsiTrace.Report;
using AsiTrace.Report.Comparing;
using AsiTrace.Tests.Cli;
using AsiTrace.Tests.Record;

namespace AsiTrace.Tests.Report;

/// <summary>The regression gate in its three modes: what a gate would be useless without.</summary>
[Collection(AsiTrace.Tests.Record.TracefsCollection.Name)] // one test records through tracefs
public class CompareTests
{
    static string Replay(string input, params string[] extra)
    {
        string dir = Path.Combine(TestPaths.TempDir(), "r");
        var (code, _, err) = CliTests.Run(["replay", input, "-o", dir, "--policy", "noasi,asi-rfc", .. extra]);
        Assert.True(code == 0, err);
        return dir;
    }

    [Fact]
    public void same_trace_a_five_percent_cost_change_fails_a_two_percent_gate_and_an_unchanged_replay_passes()
    {
        string churn = TestPaths.Sample("churn");
        string a = Replay(churn, "--interval", "500ms"), a2 = Replay(churn, "--interval", "500ms");
        string b = Replay(churn, "--interval", "500ms", "--cost", "Zero4K=262.5");   // zeroing 5 % dearer

        var (same, sameOut, _) = CliTests.Run("compare", a, a2, "--fail-on", "estimated_ns>+2%");
        Assert.Equal(0, same);
        Assert.Contains("same trace, two models", sameOut);
        Assert.Contains("no p-value", sameOut);

        var (worse, worseOut, _) = CliTests.Run("compare", a, b, "--fail-on", "noasi:estimated_ns>+2%", "--json");
        Assert.Equal(1, worse);
        Assert.Contains("estimated_ns>+2%", worseOut);           // plain characters, not \u003E\u002B
        var j = JsonDocument.Parse(worseOut).RootElement;
        Assert.Equal("same_trace", j.GetProperty("mode").GetString());
        var c = j.GetProperty("changes").EnumerateArray().Single(x => x.GetProperty("policy").GetString() == "noasi" && x.GetProperty("metric").GetString() == "estimated_ns");
        Assert.True(c.GetProperty("regression").GetBoolean());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("p_value").ValueKind);
        Assert.True(c.GetProperty("relative").GetDouble() is > 0.02 and < 0.06);
        Assert.Contains(j.GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("Cost constants differ", StringComparison.Ordinal) && n.GetString()!.Contains("Zero4K"));
        Assert.NotEmpty(j.GetProperty("top_intervals").EnumerateArray());
        // The markdown puts the gated row first, with units and separators.
        var (_, md, _) = CliTests.Run("compare", a, b, "--fail-on", "noasi:estimated_ns>+2%");
        var rows = md.Split('\n').Where(l => l.StartsWith("| noasi") || l.StartsWith("| asi-rfc")).ToList();
        Assert.StartsWith("| noasi | estimated_ns | ns |", rows[0]);
        Assert.Contains("**FAIL**", rows[0]);
        Assert.Matches(@"\d{1,3}(,\d{3})+", rows[0]);
        // Another trace is not the same trace: refused when the same trace is asked for, said otherwise.
        string other = Replay(TestPaths.Sample("dd-cat"));
        Assert.Equal(2, CliTests.Run("compare", a, other, "--same-trace").Code);
        var (diff, diffOut, _) = CliTests.Run("compare", a, other);
        Assert.Equal(0, diff);
        Assert.Contains("Different traces on the two sides", diffOut);
        Assert.Contains("cannot reach p < 0.05", diffOut);
        Assert.Equal(2, CliTests.Run("compare", a, b, "--fail-on", "estimated_ns").Code);
        Assert.Equal(2, CliTests.Run("compare", a, b, "--fail-on", "no_such_metric>+1%").Code);
    }

    /// <summary>A results set made in memory: totals of one policy, and the input hash run.json would hold.</summary>
    static ResultsSet Set(string name, string hash, double estimatedNs, double asiExits = 0) => new()
    {
        Directory = name,
        Totals =
        [
            new TotalsRow { Policy = "asi-rfc", Metric = Metrics.EstimatedNs.Name, Value = estimatedNs },
            new TotalsRow { Policy = "asi-rfc", Metric = Metrics.AsiExits.Name, Value = asiExits },
        ],
        Run = JsonDocument.Parse($$"""{"inputs": [{"path": "{{name}}", "sha256": "{{hash}}"}]}"""),
    };

    [Fact]
    public void a_corpus_where_one_trace_regresses_ten_percent_fails_a_per_trace_gate_and_shows_in_the_aggregate()
    {
        var b = new[] { Set("t1", "aa", 1000), Set("t2", "bb", 2000), Set("t3", "cc", 4000) };
        var c = new[] { Set("t1", "aa", 1000), Set("t2", "bb", 2200), Set("t3", "cc", 4000) };
        var each = Comparer.Run(b, c, [Gate.Parse("each:estimated_ns>+5%")]);
        Assert.Equal(CompareMode.Corpus, each.Mode);
        Assert.True(each.Failed);
        Assert.Equal("t2", Assert.Single(each.PerTrace, x => x.Regression).Trace);
        var agg = Assert.Single(each.Changes, x => x.Metric == "estimated_ns");
        Assert.Equal(Math.Pow(1.1, 1.0 / 3), agg.Ratio!.Value, 9);
        Assert.True(agg.RatioLow <= 1 && agg.RatioHigh >= 1.1 - 1e-9);
        // The same corpus against an aggregate gate of 5 %: +3.2 % passes; of 2 % fails.
        Assert.False(Comparer.Run(b, c, [Gate.Parse("estimated_ns>+5%")]).Failed);
        Assert.True(Comparer.Run(b, c, [Gate.Parse("estimated_ns>+2%")]).Failed);
        Assert.Contains("geometric mean", CompareOutput.Markdown(each));
    }

    static ResultsSet[] Runs(Random rng, string side, int n, double mean, double noise) =>
        Enumerable.Range(0, n).Select(i => Set($"{side}{i}", $"{side}{i}-{rng.Next()}", mean * (1 + noise * (2 * rng.NextDouble() - 1)))).ToArray();

    [Fact]
    public void repeated_recordings_a_true_ten_percent_shift_in_three_percent_noise_fails_with_five_runs_per_side()
    {
        var rng = new Random(42);
        var cmp = Comparer.Run(Runs(rng, "b", 5, 1e6, 0.03), Runs(rng, "c", 5, 1.1e6, 0.03), [Gate.Parse("estimated_ns>+5%")]);
        Assert.Equal(CompareMode.Repeated, cmp.Mode);
        Assert.True(cmp.Failed);
        Assert.True(Assert.Single(cmp.Changes, x => x.Metric == "estimated_ns").PValue < 0.05);
    }

    [Fact]
    public void repeated_recordings_noise_alone_passes_the_gate_in_at_least_95_percent_of_200_trials()
    {
        var rng = new Random(7);
        int passed = 0;
        for (int t = 0; t < 200; t++)
            if (!Comparer.Run(Runs(rng, "b", 5, 1e6, 0.03), Runs(rng, "c", 5, 1e6, 0.03), [Gate.Parse("estimated_ns>+2%")]).Failed) passed++;
        Assert.True(passed >= 190, $"noise alone failed the gate in {200 - passed} of 200 trials");
    }

    [Fact]
    public void repeated_recordings_with_two_runs_per_side_say_the_test_cannot_reach_alpha()
    {
        var rng = new Random(3);
        var cmp = Comparer.Run(Runs(rng, "b", 2, 1e6, 0.01), Runs(rng, "c", 2, 2e6, 0.01), [Gate.Parse("estimated_ns>+5%")]);
        Assert.False(cmp.Failed);   // a 100 % rise, but 2 against 2 cannot be significant at 0.05
        Assert.Contains(cmp.Notes, n => n.Contains("cannot reach p < 0.05") && n.Contains("At least 4 runs per side"));
        Assert.Equal(4, Statistics.RunsNeeded(0.05));
    }

    [Fact]
    public void permutation_test_separates_shifted_samples_from_identical_ones()
    {
        var rng = new Random(1);
        double[] x = Enumerable.Range(0, 30).Select(_ => rng.NextDouble()).ToArray();
        double[] y = x.Select(v => v + 0.02 * (rng.NextDouble() - 0.5)).ToArray();
        double[] z = x.Select(v => v + 1).ToArray();
        Assert.True(Statistics.PermutationTest(x, y, 2000, 7) > 0.2);
        Assert.True(Statistics.PermutationTest(x, z, 2000, 7) < 0.01);
        // Exact for small groups: 3 against 3 fully separated is 2 of 20 splits.
        Assert.Equal(0.1, Statistics.PermutationTest([1, 2, 3], [10, 11, 12]), 12);
    }

    [RequiresTracefsFact]
    public void real_repeated_recordings_of_one_workload_pass_a_five_percent_gate()
    {
        string root = TestPaths.TempDir();
        string Side(string side)
        {
            string dir = Path.Combine(root, side);
            for (int i = 0; i < 3; i++)
            {
                string rec = Path.Combine(root, $"rec-{side}{i}");
                var (code, _, err) = CliTests.Run("record", "-o", rec, "--no-calibrate", "--buffer-kb", "8192", "--", "sh", "-c",
                    $"dd if=/dev/zero of={root}/f bs=1M count=8 conv=fsync status=none; cat {root}/f > /dev/null; rm {root}/f");
                Assert.True(code == 0, err);
                var (rc, _, rerr) = CliTests.Run("replay", rec, "-o", Path.Combine(dir, $"run{i}"), "--policy", "noasi,asi-rfc", "--interval", "0");
                Assert.True(rc == 0, rerr);
            }
            return dir;
        }
        string a = Side("a"), b = Side("b");
        var (code2, md, _) = CliTests.Run("compare", a, b, "--fail-on", "estimated_ns>+5%");
        Assert.Equal(0, code2);
        Assert.Contains("repeated recordings: 3 against 3", md);
    }
}
