using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;

namespace AsiTrace.Replay.Synth;

/// <summary>
/// A synth scenario replayed at each value of one parameter (<c>synth SCENARIO --sweep NAME=V1,V2,…</c>): how a result
/// depends on an unpublished setting, such as the Firecracker host's CPU count, which every shootdown reaches.
/// </summary>
public static class Sweep
{
    public static List<SweepPoint> Run(string scenario, IReadOnlyDictionary<string, string> fixedParameters, string name,
        IReadOnlyList<long> values, IReadOnlyList<PolicySpec> policies, IReadOnlyList<ClassifyRule> rules, ReplayOptions? baseOptions = null)
    {
        var points = new List<SweepPoint>();
        foreach (long v in values)
        {
            var p = new Dictionary<string, string>(fixedParameters) { [name] = v.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            var trace = Scenarios.Generate(scenario, p);
            var r = ReplayRunner.Run(() => new SynthTraceReader(trace), (baseOptions ?? new ReplayOptions()) with
            {
                Policies = policies, Classify = rules, IntervalNs = 0,
            });
            foreach (var (policy, m) in r.Metrics)
                points.Add(new SweepPoint(v, policy, m[Metrics.LatencyNs], r.EstimatedNs[policy]));
        }
        return points;
    }
}
