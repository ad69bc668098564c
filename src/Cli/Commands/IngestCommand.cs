using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Csv;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace ingest INPUT... -o EVENTS.parquet|EVENTS.csv</c>: canonical events, written atomically.</summary>
static class IngestCommand
{
    public static Command Build()
    {
        var inputs = new Argument<string[]>("input") { Description = "trace files ('-' for stdin), events Parquet/CSV files or record directories; several are merged by timestamp", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "output file: .parquet (default) or .csv", Required = true };
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var opts = CommonOptions.Create();
        var cmd = new Command("ingest", "Read traces into the canonical event stream (Parquet, or CSV when the output ends in .csv)") { inputs, output, json };
        opts.AddTo(cmd);
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var paths = pr.GetValue(inputs)!;
            string outPath = pr.GetValue(output)!;
            var sw = Stopwatch.StartNew();
            using var reader = InputSet.Open(paths, opts.Get(pr));
            var summary = new EventSummary();
            var progress = new Progress("ingest", InputSet.TotalBytes(paths));
            using (var file = new AtomicFile(outPath))
            {
                if (outPath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
                {
                    using (var csv = new CsvEventWriter(file.Stream))
                        EventPipeline.RunParallel(reader, summary, chunk => csv.Write(chunk.Span, reader.Comms), progress.Report);
                }
                else
                {
                    var writer = EventsParquetWriter.CreateAsync(file.Stream).GetAwaiter().GetResult();
                    try
                    {
                        EventsPipelines.ToParquet(reader, summary, writer, progress.Report);
                        writer.CompleteAsync(reader.Metadata, reader.Stats).AsTask().GetAwaiter().GetResult();
                    }
                    finally { writer.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
                }
                file.Commit();
            }
            progress.Done();
            sw.Stop();
            if (pr.GetValue(json))
            {
                SummaryJson.PrintToStdout(summary, reader, w =>
                {
                    w.WriteString("output", Path.GetFullPath(outPath));
                    w.WriteNumber("rows_written", summary.Events + summary.ByKind[(int)Ingest.Canonical.EventKind.LostEvents]);
                    w.WriteNumber("seconds", Math.Round(sw.Elapsed.TotalSeconds, 3));
                });
            }
            else
            {
                SummaryJson.WriteHuman(Console.Error, summary, reader);
                Console.Error.WriteLine($"wrote {outPath}");
            }
            Console.Error.WriteLine(SummaryJson.Throughput(summary.Events, reader.BytesConsumed, sw.Elapsed));
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
