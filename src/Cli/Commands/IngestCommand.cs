using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Csv;
using AsiTrace.Ingest.Stacks;
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
        var stacks = new Option<string?>("--stacks")
        {
            Description = "`perf script` output of a `perf record -g` capture of the same run: adds a call_site column (the first frame outside the page allocator, as perf kmem --caller)",
        };
        var opts = CommonOptions.Create();
        var filters = FilterOptions.Create();
        var cmd = new Command("ingest", "Read traces into the canonical event stream (Parquet, or CSV when the output ends in .csv)") { inputs, output, json, stacks };
        opts.AddTo(cmd);
        filters.AddTo(cmd);
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var paths = pr.GetValue(inputs)!;
            string outPath = pr.GetValue(output)!;
            var filter = filters.Get(pr, out string? filterError);
            if (filterError is not null) { Console.Error.WriteLine($"asitrace: {filterError}"); return ExitCodes.Usage; }
            var sw = Stopwatch.StartNew();
            IEventReader reader = FilterOptions.Apply(InputSet.Open(paths, opts.Get(pr)), filter);
            CommTable? callSites = null;
            if (pr.GetValue(stacks) is string stacksPath)
            {
                try
                {
                    var index = CallSiteIndex.Load(stacksPath);
                    reader = new CallSiteReader(reader, index);
                    callSites = index.Names;
                }
                catch { reader.Dispose(); throw; }
            }
            using var _ = reader;
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
                    var writer = EventsParquetWriter.CreateAsync(file.Stream, callSites: callSites, gfpFlags: reader.Metadata.GfpFlags).GetAwaiter().GetResult();
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
                    if (callSites is not null)
                    {
                        w.WriteNumber("call_sites_matched", reader.Stats.Get("call_sites_matched"));
                        w.WriteNumber("call_sites_unmatched", reader.Stats.Get("call_sites_unmatched"));
                        w.WriteNumber("stack_samples", reader.Stats.Get("stack_samples"));
                        w.WriteNumber("distinct_call_sites", callSites.Count);
                    }
                });
            }
            else
            {
                SummaryJson.WriteHuman(Console.Error, summary, reader);
                if (callSites is not null)
                    Console.Error.WriteLine($"call sites: {reader.Stats.Get("call_sites_matched"):N0} events attributed to {callSites.Count:N0} call sites "
                        + $"({reader.Stats.Get("call_sites_unmatched"):N0} without a matching stack sample)");
                Console.Error.WriteLine($"wrote {outPath}");
            }
            Console.Error.WriteLine(SummaryJson.Throughput(summary.Events, reader.BytesConsumed, sw.Elapsed));
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
