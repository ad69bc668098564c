using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace stats INPUT [--json]</c>: decode only, count events by kind.</summary>
static class StatsCommand
{
    public static Command Build()
    {
        var input = new Argument<string>("input") { Description = "trace file, '-' for stdin, an events Parquet file, or a record directory" };
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var opts = CommonOptions.Create();
        var filters = FilterOptions.Create();
        var cmd = new Command("stats", "Decode a trace and count its events by kind, CPUs, time span, lost events and skipped lines") { input, json };
        opts.AddTo(cmd);
        filters.AddTo(cmd);
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var paths = new[] { pr.GetValue(input)! };
            var filter = filters.Get(pr, out string? filterError);
            if (filterError is not null) { Console.Error.WriteLine($"asitrace: {filterError}"); return ExitCodes.Usage; }
            var sw = Stopwatch.StartNew();
            using var reader = FilterOptions.Apply(InputSet.Open(paths, opts.Get(pr)), filter);
            var summary = new EventSummary();
            var progress = new Progress("stats", InputSet.TotalBytes(paths));
            EventPipeline.RunSummary(reader, summary, progress.Report);
            progress.Done();
            sw.Stop();
            if (pr.GetValue(json)) SummaryJson.PrintToStdout(summary, reader);
            else SummaryJson.WriteHuman(Console.Error, summary, reader);
            Console.Error.WriteLine(SummaryJson.Throughput(summary.Events, reader.BytesConsumed, sw.Elapsed));
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
