using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;
using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Replay;

/// <summary>
/// Costs attributed to who caused them (docs/attribution.md): every dimension's keys sum to the policy's totals, the
/// causes land where the model charges them, and requests.parquet carries each request's own cost per policy.
/// </summary>
public class AttributionTests
{
    static List<PolicySpec> Parse(string list) => PolicySpec.TryParseList(list, out var specs, out string error) ? specs : throw new ArgumentException(error);
    static readonly List<PolicySpec> All = Parse(PolicySpec.DefaultList);

    static ReplayResult Replay(string sample, Stream? requests = null, IReadOnlyList<PolicySpec>? policies = null)
    {
        string root = TestPaths.Sample(sample);
        return ReplayRunner.Run(() => TraceOpener.Open(root, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(root, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(root, "snapshot-end")),
            Policies = policies ?? All,
            RequestsOutput = requests,
        });
    }

    [Theory]
    [InlineData("churn")]
    [InlineData("qemu-6.12")]
    public void every_dimension_sums_to_the_policy_totals(string sample)
    {
        var r = Replay(sample);
        Assert.NotEmpty(r.Attribution);
        int checkedSums = 0;
        foreach (var (policy, metrics) in r.Metrics)
            foreach (string metric in Attribution.MetricNames)
            {
                double total = metric == Metrics.EstimatedNs.Name ? r.EstimatedNs[policy] : metrics.GetValueOrDefault(metric);
                foreach (string by in AttributionTable.Dimensions)
                {
                    double sum = r.Attribution.Where(a => a.Policy == policy && a.By == by && a.Metric == metric).Sum(a => a.Value);
                    if (metric.EndsWith("_ns", StringComparison.Ordinal))
                        // Nanoseconds are sums of products of counts and constants: the same terms, added in another order.
                        Assert.True(Math.Abs(sum - total) <= 1e-9 * Math.Max(1, Math.Abs(total)), $"{policy} {metric} by {by}: {sum} vs total {total}");
                    else Assert.True(sum == total, $"{policy} {metric} by {by}: {sum} vs total {total}");
                    checkedSums++;
                }
            }
        Assert.Equal(r.Metrics.Count * Attribution.MetricNames.Length * AttributionTable.Dimensions.Length, checkedSums);
        // The sums are not vacuous: the ASI policies have exits and extra CPU time to attribute.
        Assert.True(r.Metrics["asi-rfc"][Metrics.AsiExits.Name] > 100);
        Assert.True(r.EstimatedNs["asi-rfc"] > r.EstimatedNs["noasi"]);
    }

    [Fact]
    public void exits_land_on_the_allocations_and_events_that_cause_them()
    {
        var r = Replay("churn");
        double Sum(string policy, string by, string metric, Func<string, bool> key) =>
            r.Attribution.Where(a => a.Policy == policy && a.By == by && a.Metric == metric && key(a.Key)).Sum(a => a.Value);
        // asi-rfc's zeroing exits are allocations': __GFP_ZERO ones clearing outside the restricted map, and nonsensitive
        // allocations of pages that were sensitive before (cleared before the restricted map gets them back).
        double zeroing = r.Metrics["asi-rfc"][Metrics.AsiExitsZeroing.Name];
        Assert.True(zeroing > 1000);
        Assert.Equal(zeroing, Sum("asi-rfc", "gfp", Metrics.AsiExitsZeroing.Name, k => !k.StartsWith('(')));
        Assert.True(Sum("asi-rfc", "gfp", Metrics.AsiExitsZeroing.Name, k => k.Contains("__GFP_ZERO", StringComparison.Ordinal)) > 0.99 * zeroing);
        double cow = r.Metrics["asi-rfc"][Metrics.AsiExitsCow.Name];
        Assert.True(cow > 100);
        // Copy-on-write copies come from user fault allocations (GFP_HIGHUSER_MOVABLE) without __GFP_ZERO; a readahead
        // page (__GFP_NORETRY, GFP_NOFS) is never one.
        Assert.Equal(cow, Sum("asi-rfc", "gfp", Metrics.AsiExitsCow.Name, k => k.StartsWith("GFP_HIGHUSER_MOVABLE", StringComparison.Ordinal) && !k.Contains("__GFP_ZERO", StringComparison.Ordinal)));
        // Context-switch exits are sched_switch events', never an allocation's.
        double cs = r.Metrics["asi-rfc"][Metrics.AsiExitsContextSwitch.Name];
        Assert.True(cs > 0);
        Assert.Equal(cs, Sum("asi-rfc", "gfp", Metrics.AsiExitsContextSwitch.Name, k => k == "(sched_switch)"));
        // Orders and migratetypes of allocations are named; noasi's zeroing cost is all in allocations and flips.
        Assert.Contains(r.Attribution, a => a.By == "migratetype" && a.Key == "movable");
        Assert.Contains(r.Attribution, a => a.By == "order" && a.Key == "0");
        Assert.Contains(r.Attribution, a => a.By == "comm" && a.Key == "python3" && a.Metric == Metrics.EstimatedNs.Name);
        Assert.Equal(0, Sum("noasi", "gfp", Metrics.AsiExits.Name, _ => true));
    }

    [Fact]
    public void requests_carry_their_cost_under_each_policy_and_it_matches_the_attribution()
    {
        string file = Path.Combine(TestPaths.TempDir(), "requests.parquet");
        var policies = Parse("noasi,asi-rfc,asi-freetypes");
        ReplayResult r;
        using (var fs = File.Create(file)) r = Replay("churn", fs, policies);
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT count(*), sum(\"estimated_ns_noasi\"), sum(\"estimated_ns_asi-rfc\"), sum(\"estimated_ns_asi-freetypes\"), count(call_site) FROM read_parquet('{file}')";
        using var rd = cmd.ExecuteReader();
        Assert.True(rd.Read());
        Assert.Equal((long)r.Metrics["noasi"][Metrics.Allocations.Name], Convert.ToInt64(rd.GetValue(0)));
        for (int i = 0; i < policies.Count; i++)
        {
            // A traced allocation's cost is what was charged while placing it: the attribution's allocation keys.
            double fromRequests = rd.GetDouble(1 + i);
            double fromAttribution = r.Attribution.Where(a => a.Policy == policies[i].Name && a.By == "gfp" && a.Metric == Metrics.EstimatedNs.Name
                && !a.Key.StartsWith('(')).Sum(a => a.Value);
            Assert.True(fromRequests > 0);
            Assert.True(Math.Abs(fromRequests - fromAttribution) <= 1e-9 * fromAttribution, $"{policies[i].Name}: requests {fromRequests} vs attribution {fromAttribution}");
        }
        Assert.True(rd.GetDouble(2) > rd.GetDouble(1), "asi-rfc's requests cost more than noasi's");
        Assert.Equal(0L, Convert.ToInt64(rd.GetValue(4)));   // this trace was not ingested with --stacks
    }
}
