using System.CommandLine;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Replay.Synth;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace synth SCENARIO [--param K=V ...] -o EVENTS.parquet</c>: a synthetic trace of a seed workload.</summary>
static class SynthCommand
{
    public static Command Build()
    {
        var scenario = new Argument<string>("scenario") { Description = "one of: " + string.Join(", ", Scenarios.Names) };
        scenario.AcceptOnlyFromAmong(Scenarios.Names);
        var param = new Option<string[]>("--param") { Description = "scenario parameter K=V (repeatable); see the README for each scenario's parameters", AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output", "-o") { Description = "events Parquet file to write", Required = true };
        var cmd = new Command("synth", "Generate a synthetic trace (canonical events) of a workload the seeds measured: " + string.Join(", ", Scenarios.Names))
        {
            scenario, param, output,
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
}
