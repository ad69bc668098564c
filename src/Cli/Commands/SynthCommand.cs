using System.CommandLine;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;
using AsiTrace.Replay.Synth;
using AsiTrace.Report;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace synth SCENARIO [--param K=V ...] -o EVENTS.parquet</c>: a synthetic trace of a seed workload.</summary>
static class SynthCommand
{
    public static Command Build()
    {
        var scenario = new Argument<string>("scenario") { Description = "one of: " + string.Join(", ", Scenarios.Names) };
        scenario.AcceptOnlyFromAmong(Scenarios.Names);
        var param = new Option<string[]>("--param") { Description = "scenario parameter K=V (repeatable); each scenario's, with its default: " + string.Join("; ",
            Scenarios.Parameters.Select(kv => $"{kv.Key}: " + string.Join(", ", kv.Value.Select(p => $"{p.Name}={p.Default} ({p.Meaning})")))), AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output", "-o") { Description = "events Parquet file to write (with --sweep: the directory for sweep.csv, sweep.png, sweep.svg)", Required = true };
        var sweep = new Option<string?>("--sweep") { Description = "NAME=V1,V2,…: replay the scenario at each value of one parameter and chart each policy's latency against it" };
        var policy = new Option<string?>("--policy") { Description = "with --sweep: the policies to replay (default: the default list)" };
        var classify = new Option<string[]>("--classify") { Description = "with --sweep: classification rules, as for replay", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("synth", "Generate a synthetic trace (canonical events) of a workload the seeds measured: " + string.Join(", ", Scenarios.Names))
        {
            scenario, param, output, sweep, policy, classify,
        };
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in pr.GetValue(param) ?? [])
            {
                int eq = p.IndexOf('=');
                if (eq <= 0) { Console.Error.WriteLine($"asitrace: --param '{p}': expected K=V"); return ExitCodes.Usage; }
                parameters[p[..eq]] = p[(eq + 1)..];
            }
            if (pr.GetValue(sweep) is { } sw)
                return RunSweep(pr.GetValue(scenario)!, parameters, sw, pr.GetValue(policy), pr.GetValue(classify) ?? [], pr.GetValue(output)!);
            SynthTrace trace;
            try { trace = Scenarios.Generate(pr.GetValue(scenario)!, parameters); }
            catch (ArgumentException ex) { Console.Error.WriteLine($"asitrace: {ex.Message}"); return ExitCodes.Usage; }
            var stats = new TraceStats();
            int h = stats.Register("events_decoded", Severity.Info);
            stats.Add(h, trace.Events.Count);
            using (var f = new AtomicFile(pr.GetValue(output)!))
            {
                var w = EventsParquetWriter.CreateAsync(f.Stream).GetAwaiter().GetResult();
                w.WriteAsync(trace.Events.ToArray(), trace.Comms).AsTask().GetAwaiter().GetResult();
                w.CompleteAsync(trace.Metadata, stats).AsTask().GetAwaiter().GetResult();
                w.DisposeAsync().AsTask().GetAwaiter().GetResult();
                f.Commit();
            }
            Console.Error.WriteLine($"{trace.Events.Count:N0} events of {pr.GetValue(scenario)} written to {pr.GetValue(output)}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    static int RunSweep(string scenario, Dictionary<string, string> parameters, string spec, string? policyList, string[] classify, string dir)
    {
        int eq = spec.IndexOf('=');
        var values = new List<long>();
        if (eq <= 0 || spec[(eq + 1)..].Split(',').Any(v => !long.TryParse(v, out long n) || n <= 0 || !Add(values, n)))
        {
            Console.Error.WriteLine($"asitrace: --sweep '{spec}': expected NAME=V1,V2,… with positive integers");
            return ExitCodes.Usage;
        }
        string name = spec[..eq];
        if (!PolicySpec.TryParseList(policyList ?? PolicySpec.DefaultList, out var specs, out string policyError))
        {
            Console.Error.WriteLine($"asitrace: {policyError}");
            return ExitCodes.Usage;
        }
        List<ClassifyRule> rules;
        try { rules = classify.Select(ClassifyRule.Parse).ToList(); }
        catch (FormatException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.Usage; }
        List<SweepPoint> points;
        try { points = Sweep.Run(scenario, parameters, name, values, specs, rules); }
        catch (ArgumentException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.Usage; }
        foreach (var f in SweepChart.Write(points, name, $"{scenario}: latency against {name}", dir)) Console.Error.WriteLine($"wrote {f}");
        foreach (var g in points.GroupBy(p => p.Value))
            Console.Error.WriteLine($"{name}={g.Key}: " + string.Join(", ", g.Select(p => $"{p.Policy} {p.LatencyNs / 1e6:N1} ms")));
        return ExitCodes.Ok;
    }

    static bool Add(List<long> values, long v) { values.Add(v); return true; }
}
