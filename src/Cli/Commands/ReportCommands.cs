using System.CommandLine;
using System.Text.Json;
using AsiTrace.Report;
using AsiTrace.Report.Comparing;

namespace AsiTrace.Cli.Commands;

/// <summary><c>report</c>, <c>compare</c>, <c>analyze</c> and <c>demo</c>: everything after the replay.</summary>
static class ReportCommands
{
    public static Command Report()
    {
        var results = new Argument<string>("results") { Description = "results directory written by asitrace replay" };
        var output = new Option<string?>("--output", "-o") { Description = "where to write the report (default: the results directory)" };
        var window = new Option<string?>("--window") { Description = "clip the charts' time axes to FROM..TO (offsets from the trace start, e.g. 10s..20s, or trace time in seconds); totals stay the replay's (for a window's totals: replay --window)" };
        var cmd = new Command("report", "Draw the charts (PNG and SVG), summary.md, totals.csv, series.csv and a self-contained report.html from a results directory") { results, output, window };
        cmd.SetAction(pr => CliRunner.Guard(() => WriteReport(pr.GetValue(results)!, pr.GetValue(output), pr.GetValue(window))));
        return cmd;
    }

    static int WriteReport(string resultsDir, string? outDir, string? window = null)
    {
        ResultsSet set;
        try { set = ResultsSet.Load(resultsDir); }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
        catch (InvalidDataException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.InvalidInput; }
        if (window is not null)
        {
            if (!AsiTrace.Ingest.Pipeline.EventFilter.TryParseWindow(window, out var from, out bool fromOff, out var to, out bool toOff, out string? error))
            {
                Console.Error.WriteLine($"asitrace: {error}");
                return ExitCodes.Usage;
            }
            if (set.TraceStartNs is not long t0 && (fromOff || toOff))
            {
                Console.Error.WriteLine($"asitrace: --window '{window}': {resultsDir} predates run.json's trace_start_ns, so offsets cannot be placed; give trace time in seconds");
                return ExitCodes.Usage;
            }
            long origin = set.TraceStartNs ?? 0;
            long f = from is { } a ? (fromOff ? origin + a : a) : long.MinValue, l = to is { } b ? (toOff ? origin + b : b) : long.MaxValue;
            set = set.ClipCharts(f, l, window);
        }
        string dir = outDir ?? resultsDir;
        var files = ReportWriter.Write(set, dir);
        Console.Error.WriteLine($"report: {Path.Combine(dir, "report.html")} ({files.Count} files: summary.md, totals.csv, series.csv, plots/)");
        return ExitCodes.Ok;
    }

    public static Command CompareCommand()
    {
        var baseDir = new Argument<string>("base") { Description = "the baseline: a results directory, or a directory of them (a corpus of traces, or repeated recordings)" };
        var candDir = new Argument<string>("candidate") { Description = "the candidate (e.g. the allocator change), as the baseline" };
        var failOn = new Option<string[]>("--fail-on") { Description = "gate '[each:][POLICY:]METRIC>+PCT' (repeatable; quote it); exit 1 when the metric rises more than PCT (a corpus: the geometric mean, or with each: any trace; repeated recordings: also p < alpha)", AllowMultipleArgumentsPerToken = false };
        var alpha = new Option<double>("--alpha") { Description = "significance level for repeated recordings", DefaultValueFactory = _ => 0.05 };
        var sameTrace = new Option<bool>("--same-trace") { Description = "refuse unless both sides replayed the same stored trace" };
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of the markdown table" };
        var cmd = new Command("compare", "Compare replays metric by metric: the regression gate for allocator and model changes on stored traces, over one trace, a corpus, or repeated recordings")
        {
            baseDir, candDir, failOn, alpha, sameTrace, json,
        };
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var gates = new List<Gate>();
            try { foreach (var g in pr.GetValue(failOn) ?? []) gates.Add(Gate.Parse(g)); }
            catch (FormatException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.Usage; }
            if (pr.GetValue(alpha) is <= 0 or >= 1) { Console.Error.WriteLine("asitrace: --alpha must be between 0 and 1"); return ExitCodes.Usage; }
            List<ResultsSet> a, b;
            try { a = ResultsSet.LoadAll(pr.GetValue(baseDir)!); b = ResultsSet.LoadAll(pr.GetValue(candDir)!); }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
            catch (InvalidDataException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.InvalidInput; }
            Comparison cmp;
            try { cmp = Comparer.Run(a, b, gates, pr.GetValue(alpha), pr.GetValue(sameTrace)); }
            catch (FormatException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.Usage; }
            Console.Out.Write(pr.GetValue(json) ? CompareOutput.Json(cmp) + "\n" : CompareOutput.Markdown(cmp));
            return cmp.Failed ? ExitCodes.GateFailed : ExitCodes.Ok;
        }));
        return cmd;
    }

    public static Command Analyze()
    {
        var inputs = new Argument<string[]>("inputs") { Description = "trace files, events Parquet files or a record directory", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "directory for the results and the report", Required = true };
        var json = new Option<bool>("--json") { Description = "print the replay's JSON object on stdout" };
        var cmd = new Command("analyze", "Replay the trace under the default policies and write the report: the main job") { inputs, output, json };
        // The replay's options, passed on as given (replay checks them): analyze is replay plus report.
        var single = new[] { "--policy", "--interval", "--costs", "--cpu-model", "--snapshot", "--placement", "--max-ram", "--cpus", "--window" }
            .Select(n => new Option<string?>(n) { Description = $"as for replay ({n})" }).ToList();
        var repeated = new[] { "--knob", "--cost", "--classify" }
            .Select(n => new Option<string[]>(n) { Description = $"as for replay ({n}); repeatable", AllowMultipleArgumentsPerToken = false }).ToList();
        foreach (var o in single) cmd.Options.Add(o);
        foreach (var o in repeated) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var passOn = new List<string>();
            foreach (var o in single) if (pr.GetValue(o) is { } v) passOn.AddRange([o.Name, v]);
            foreach (var o in repeated) foreach (var v in pr.GetValue(o) ?? []) passOn.AddRange([o.Name, v]);
            return RunAnalyze(pr.GetValue(inputs)!, pr.GetValue(output)!, pr.GetValue(json), passOn);
        });
        return cmd;
    }

    /// <summary>ingest (only when several inputs must become one stream) → replay → report, through the commands themselves.</summary>
    static int RunAnalyze(string[] inputs, string outDir, bool json, IReadOnlyList<string>? replayOptions = null)
    {
        Directory.CreateDirectory(outDir);
        string events = inputs[0];
        if (inputs.Length > 1)
        {
            events = Path.Combine(outDir, "events.parquet");
            int ic = Program.BuildRoot().Parse(["ingest", .. inputs, "-o", events]).Invoke();
            if (ic != ExitCodes.Ok) return ic;
        }
        var replayArgs = new List<string> { "replay", events, "-o", outDir };
        if (json) replayArgs.Add("--json");
        replayArgs.AddRange(replayOptions ?? []);
        int rc = Program.BuildRoot().Parse(replayArgs.ToArray()).Invoke();
        if (rc != ExitCodes.Ok) return rc;
        return CliRunner.Guard(() => WriteReport(outDir, null));
    }

    public static Command Demo()
    {
        var output = new Option<string>("--output", "-o") { Description = "directory for the demo's results and report", DefaultValueFactory = _ => "asitrace-demo" };
        var cmd = new Command("demo", "Analyze the bundled real trace (sample-traces/churn: 368 k events recorded on Linux 6.18 with /proc snapshots)") { output };
        cmd.SetAction(pr =>
        {
            string? sample = FindSample();
            if (sample is null) { Console.Error.WriteLine("asitrace: the bundled sample-traces/churn was not found beside the tool or above the current directory"); return ExitCodes.IoError; }
            int rc = RunAnalyze([sample], pr.GetValue(output)!, json: false);
            if (rc == ExitCodes.Ok) Console.Out.WriteLine(Path.GetFullPath(Path.Combine(pr.GetValue(output)!, "report.html")));
            return rc;
        });
        return cmd;
    }

    static string? FindSample()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "sample-traces", "churn");
                if (Directory.Exists(p)) return p;
            }
        return null;
    }
}
