using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Record;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Tlb;
using AsiTrace.Replay;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace replay EVENTS … -o RESULTS_DIR [--json]</c>: the trace through each policy's model.</summary>
static class ReplayCommand
{

    /// <summary>A size in bytes: digits with an optional binary suffix K, M, G or T (64G = 64 GiB).</summary>
    internal static bool TrySize(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0) return false;
        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        string digits = shift == 0 ? text : text[..^1];
        if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)) return false;
        if (n > long.MaxValue >> shift) return false;
        bytes = n << shift;
        return true;
    }

    public static Command Build()
    {
        var input = new Argument<string>("events") { Description = "events Parquet file, trace file, or a record directory (its snapshots are used)" };
        var output = new Option<string>("--output", "-o") { Description = "results directory (created if missing)", Required = true };
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var policy = new Option<string>("--policy") { Description = $"comma-separated policies, each optionally +mermap: {string.Join(", ", PolicySpec.KindNames)}", DefaultValueFactory = _ => PolicySpec.DefaultList };
        var classify = new Option<string[]>("--classify") { Description = "classification rule KEY=VALUE[,KEY=VALUE]:CLASS (keys comm, pid, gfp, order; class nonsensitive|sensitive|unmapped), tried before the defaults; repeatable", AllowMultipleArgumentsPerToken = false };
        var cpus = new Option<int?>("--cpus") { Description = "online CPUs of the traced machine, when the input does not say (CSV carries no metadata) or names fewer than had events" };
        var interval = new Option<string>("--interval") { Description = "time-series interval of trace time (e.g. 100ms, 1s; 0 = totals only; auto = a round interval giving at least 50 points)", DefaultValueFactory = _ => "auto" };
        var maxRam = new Option<string>("--max-ram") { Description = "without a snapshot, the largest machine the trace's pfns may imply (e.g. 64G, 512G, 2T); a trace reaching past it is refused rather than sized from one stray pfn", DefaultValueFactory = _ => "64G" };
        var requests = new Option<bool>("--requests") { Description = "also write requests.parquet: every allocation request with its class (nonsensitive/sensitive/unmapped) and the rule that gave it" };
        var knob = new Option<string[]>("--knob") { Description = "policy knob NAME=VALUE (docs/model.md §8.3; e.g. RfcUnmapBatch=64, InitialSensitivity=nonsensitive); repeatable", AllowMultipleArgumentsPerToken = false };
        var placement = new Option<string>("--placement") { Description = "model: the model places every request (default); trace: pages stay where the trace shows them (MMU-side costs only; not for asi-freetypes/unmapped)", DefaultValueFactory = _ => "model" };
        placement.AcceptOnlyFromAmong("model", "trace");
        var snapshot = new Option<string?>("--snapshot") { Description = "record directory (snapshot-start/, snapshot-end/) or a snapshot directory; default: the input's own when it is a record directory" };
        var cpuModel = new Option<string>("--cpu-model") { Description = $"CPU preset for TLB geometry and costs: {string.Join(", ", CpuPreset.All.Select(p => p.Name))}", DefaultValueFactory = _ => CpuPreset.SapphireRapids.Name };
        cpuModel.AcceptOnlyFromAmong(CpuPreset.All.Select(p => p.Name).ToArray());
        var costs = new Option<string?>("--costs") { Description = "JSON file of cost overrides, e.g. {\"Zero4K\": 180, \"CpuGhz\": 3.1}" };
        var cost = new Option<string[]>("--cost") { Description = $"one cost override NAME=VALUE (repeatable; after --costs); NAME is CpuGhz or one of {string.Join(", ", Enum.GetNames<CostConstant>())}", AllowMultipleArgumentsPerToken = false };
        var opts = CommonOptions.Create();
        var by = new Option<string?>("--by") { Description = $"print each policy's top contributors to its cost by one of: {string.Join(", ", AttributionTable.Dimensions)} (all of them are in attribution.parquet)" };
        var window = new Option<string?>("--window") { Description = "count only FROM..TO: offsets from the trace's first event (10s..20s, 250ms..) or trace time in seconds (8337.5..8338); the model is still replayed from the trace start (warm-up)" };
        var top = new Option<int>("--top") { Description = "how many contributors --by prints per policy", DefaultValueFactory = _ => 10 };
        var cmd = new Command("replay", "Replay a trace through the page-allocator and MMU model under each policy; writes totals.parquet, fidelity.parquet and run.json")
        {
            input, output, json, policy, placement, snapshot, cpuModel, costs, cost, classify, interval, knob, requests, cpus, maxRam, by, top, window,
        };
        opts.AddTo(cmd);
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            string path = pr.GetValue(input)!;
            if (path == "-")
            {
                Console.Error.WriteLine("asitrace: replay reads its input twice; save stdin to a file (or `asitrace ingest - -o events.parquet`) first");
                return ExitCodes.Usage;
            }
            if (pr.GetValue(by) is { } byKey && !AttributionTable.Dimensions.Contains(byKey))
            {
                Console.Error.WriteLine($"asitrace: --by '{byKey}': expected one of {string.Join(", ", AttributionTable.Dimensions)}");
                return ExitCodes.Usage;
            }
            ReplayWindow? replayWindow = null;
            if (pr.GetValue(window) is { } w)
            {
                if (!AsiTrace.Ingest.Pipeline.EventFilter.TryParseWindow(w, out var wFrom, out bool wFromOff, out var wTo, out bool wToOff, out string? wError))
                {
                    Console.Error.WriteLine($"asitrace: {wError}");
                    return ExitCodes.Usage;
                }
                replayWindow = new ReplayWindow(wFrom, wFromOff, wTo, wToOff, w);
            }
            if (pr.GetValue(top) is < 1 or > 1_000_000) { Console.Error.WriteLine("asitrace: --top must be between 1 and 1000000"); return ExitCodes.Usage; }
            if (pr.GetValue(cpus) is < 1 or > 8192) { Console.Error.WriteLine("asitrace: --cpus must be between 1 and 8192"); return ExitCodes.Usage; }
            if (!PolicySpec.TryParseList(pr.GetValue(policy) ?? PolicySpec.DefaultList, out var specs, out string policyError))
            {
                Console.Error.WriteLine($"asitrace: {policyError}");
                return ExitCodes.Usage;
            }
            if (pr.GetValue(placement) == "trace")
            {
                // Pageblock grouping is the allocator's business, which trace placement does not model.
                var dropped = specs.Where(x => x.Kind is PolicyKind.AsiFreetypes or PolicyKind.Unmapped).ToList();
                foreach (var d in dropped) { specs.Remove(d); Console.Error.WriteLine($"note: {d.Name} needs --placement model; left out"); }
                if (specs.Count == 0) { Console.Error.WriteLine("asitrace: no policy left that --placement trace can replay"); return ExitCodes.Usage; }
            }
            var rules = new List<ClassifyRule>();
            var knobs = new PolicyKnobs();
            try
            {
                foreach (var c in pr.GetValue(classify) ?? []) rules.Add(ClassifyRule.Parse(c));
                foreach (var k in pr.GetValue(knob) ?? []) knobs = knobs.With(k);
            }
            catch (FormatException ex) { Console.Error.WriteLine($"asitrace: {ex.Message}"); return ExitCodes.Usage; }
            if (!TryDuration(pr.GetValue(interval) ?? "auto", out long intervalNs))
            {
                Console.Error.WriteLine($"asitrace: --interval '{pr.GetValue(interval)}': expected a duration such as 250ms, 1s, 2m, 0 or auto");
                return ExitCodes.Usage;
            }
            if (!TrySize(pr.GetValue(maxRam) ?? "64G", out long maxRamBytes) || maxRamBytes < 1L << 24 || maxRamBytes > MachineLimits.MaxPfn << 12)
            {
                Console.Error.WriteLine($"asitrace: --max-ram '{pr.GetValue(maxRam)}': expected a size from 16M to 4096T, such as 64G or 2T");
                return ExitCodes.Usage;
            }
            var preset = CpuPreset.Find(pr.GetValue(cpuModel)!)!;
            var (start, end, snapDir) = Snapshots(path, pr.GetValue(snapshot));
            var info = snapDir is null ? null : RecordInfo.Load(snapDir);
            // A recording's own calibration (record ran asitrace calibrate) comes first; --costs and --cost override it.
            var baseCosts = preset.Costs;
            var notes = new List<string>();
            if (snapDir is not null && File.Exists(Path.Combine(snapDir, "costs.json")))
            {
                string hostCosts = Path.Combine(snapDir, "costs.json");
                try { baseCosts = baseCosts.WithOverrides(File.ReadAllText(hostCosts)); }
                catch (Exception e) when (e is FormatException or System.Text.Json.JsonException) { throw new InvalidTraceException(hostCosts, "costs", e.Message); }
                notes.Add($"cost constants measured on the recording host ({hostCosts}, asitrace calibrate) replace the {preset.Name} preset's where measured; the ASI-specific ones (AsiExit, AsiEnter, RsbStuff, L1dFlush, Verw) stay the preset's estimates");
            }
            if (!TryCosts(baseCosts, pr.GetValue(costs), pr.GetValue(cost) ?? [], out var costModel, out string? costError))
            {
                Console.Error.WriteLine($"asitrace: {costError}");
                return ExitCodes.Usage;
            }
            string outDir = pr.GetValue(output)!;
            // Bad input is found while the trace is read, after this point: a directory made for it is removed again,
            // so a failed replay leaves nothing behind (an existing directory keeps what it had).
            bool madeOutDir = !Directory.Exists(outDir);
            Directory.CreateDirectory(outDir);
            try
            {
                var ingestOptions = opts.Get(pr);
                var sw = Stopwatch.StartNew();
                long? size = InputSet.TotalBytes([path]);
                var progress = new Progress("replay", size is > 0 ? 2 * size : null);
                using var requestsFile = pr.GetValue(requests) ? new AtomicFile(Path.Combine(outDir, "requests.parquet")) : null;
                var result = ReplayRunner.Run(() => TraceOpener.Open(path, ingestOptions),
                    new ReplayOptions
                    {
                        StartSnapshot = start, EndSnapshot = end, BaselineCpuNs = info?.Baseline?.CpuNs, RecorderTids = info?.UntracedTids ?? [], Notes = notes, Costs = costModel, Cpu = preset, Policies = specs, Knobs = knobs,
                        Classify = rules, IntervalNs = intervalNs, RequestsOutput = requestsFile?.Stream, Cpus = pr.GetValue(cpus),
                        TracePlacement = pr.GetValue(placement) == "trace", MaxRamWithoutSnapshot = maxRamBytes, Window = replayWindow,
                    },
                    (pass, bytes) => progress.Report(pass == 2 && size is > 0 ? size.Value + bytes : bytes));
                progress.Done();
                sw.Stop();

                requestsFile?.Commit();
                WriteAtomically(Path.Combine(outDir, "totals.parquet"), s => ResultsWriter.WriteTotalsAsync(result, s).GetAwaiter().GetResult());
                WriteAtomically(Path.Combine(outDir, "fidelity.parquet"), s => ResultsWriter.WriteFidelityAsync(result, s).GetAwaiter().GetResult());
                WriteAtomically(Path.Combine(outDir, "series.parquet"), s => ResultsWriter.WriteSeriesAsync(result, s).GetAwaiter().GetResult());
                WriteAtomically(Path.Combine(outDir, "pageblocks.parquet"), s => ResultsWriter.WritePageblocksAsync(result, s).GetAwaiter().GetResult());
                WriteAtomically(Path.Combine(outDir, "mix.parquet"), s => ResultsWriter.WriteMixAsync(result, s).GetAwaiter().GetResult());
                WriteAtomically(Path.Combine(outDir, "attribution.parquet"), s => ResultsWriter.WriteAttributionAsync(result, s).GetAwaiter().GetResult());
                var run = RunManifest.Build(path, snapDir, specs.Select(x => x.Name).ToArray(), pr.GetValue(cpuModel)!, costModel, knobs, rules, intervalNs, result, pr.GetValue(placement)!,
                    typeof(ReplayCommand).Assembly.GetName().Version?.ToString());
                WriteAtomically(Path.Combine(outDir, "run.json"), s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(ResultsWriter.ToJsonText(run)); });

                if (pr.GetValue(json)) Console.Out.WriteLine(ResultsWriter.ToJsonText(ResultsWriter.ToJson(result)));
                else WriteHuman(result, outDir);
                if (pr.GetValue(by) is { } byDim) TopContributors.Print(Console.Out, result, byDim, pr.GetValue(top));
                Console.Error.WriteLine($"{result.Events:N0} events replayed in {sw.Elapsed.TotalSeconds:F2} s ({result.Events / Math.Max(sw.Elapsed.TotalSeconds, 1e-9) / 1e6:F2} M events/s, two passes)");
                return ExitCodes.Ok;
            }
            catch when (madeOutDir)
            {
                RemoveIfEmpty(outDir);
                throw;
            }
        }));
        return cmd;
    }

    static void RemoveIfEmpty(string dir)
    {
        try { if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static void WriteAtomically(string target, Action<Stream> write)
    {
        using var f = new AtomicFile(target);
        write(f.Stream);
        f.Commit();
    }

    /// <summary>Start and end snapshots: from --snapshot (a record directory or one snapshot), else the input's record directory.</summary>
    static (MachineSnapshot? Start, MachineSnapshot? End, string? Dir) Snapshots(string input, string? option)
    {
        string? dir = option ?? (Directory.Exists(input) ? input : null);
        if (dir is null) return (null, null, null);
        if (!Directory.Exists(dir)) throw new FileNotFoundException($"{dir}: snapshot directory not found");
        string s = Path.Combine(dir, "snapshot-start"), e = Path.Combine(dir, "snapshot-end");
        if (Directory.Exists(s)) return (MachineSnapshot.Load(s), Directory.Exists(e) ? MachineSnapshot.Load(e) : null, dir);
        if (option is not null) return (MachineSnapshot.Load(dir), null, dir);
        return (null, null, null);
    }

    static bool TryCosts(CostModel baseCosts, string? file, string[] pairs, out CostModel model, out string? error)
    {
        model = baseCosts;
        error = null;
        try
        {
            if (file is not null) model = model.WithOverrides(File.ReadAllText(file));
            foreach (var p in pairs)
            {
                int eq = p.IndexOf('=');
                if (eq <= 0 || !double.TryParse(p[(eq + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
                    || !double.IsFinite(v) || v < 0)
                { error = $"--cost '{p}': expected NAME=NUMBER, a finite number of 0 or more"; return false; }
                model = model.WithOverrides(new System.Text.Json.Nodes.JsonObject { [p[..eq].Trim()] = v }.ToJsonString());
            }
            return true;
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException)
        {
            error = $"cost overrides{(file is null ? "" : $" in {file}")}: {ex.Message}";
            return false;
        }
    }

    /// <summary>"250ms", "1s", "2m", "1500us", "0" → nanoseconds; "auto" → −1 (chosen from the trace's span).</summary>
    static bool TryDuration(string text, out long ns)
    {
        ns = 0;
        text = text.Trim();
        if (text == "0") return true;
        if (text == "auto") { ns = -1; return true; }
        return TraceDurations.TryParse(text, out ns);
    }

    static void WriteHuman(ReplayResult r, string outDir)
    {
        var e = Console.Error;
        e.WriteLine($"{r.Events:N0} events, {r.Cpus} CPUs, {r.LostEvents:N0} lost");
        e.WriteLine(r.Fidelity.Any(f => f.Basis == AsiTrace.Replay.Fidelity.FidelityBasis.GuessedStart)
            ? "fidelity (noasi replay vs the trace; no start snapshot: the model started from a guessed layout, so no check is judged):"
            : "fidelity (noasi replay vs the trace):");
        foreach (var f in r.Fidelity)
        {
            string verdict = f.Verdict switch { "fail" => $"FAIL (> {f.Tolerance:P0})", "reported" => "", var v => v };
            string basis = f.Basis == AsiTrace.Replay.Fidelity.FidelityBasis.InSample ? "  (in-sample)" : "";
            string model = f.Distance is { } d ? $"distance {d,9:0.000}" : $"model {f.Model,12:N0}";
            e.WriteLine($"  {f.Name,-28} trace {f.Trace,12:N0}  {model}  {(double.IsFinite(f.RelativeError) ? f.RelativeError.ToString("P1") : "n/a"),8}  {verdict}{basis}");
        }
        // Policies side by side: the metrics that tell them apart.
        Metric[] rows =
        [
            Metrics.AsiExits, Metrics.AsiExitsPageCache, Metrics.AsiExitsZeroing, Metrics.AsiExitsCow, Metrics.AsiExitsContextSwitch,
            Metrics.KernelRangeFlushes, Metrics.KernelRangeFlushesFull, Metrics.IpisSent, Metrics.TlbMisses, Metrics.DirectMapSplits1G,
            Metrics.DirectMapSplits2M, Metrics.RestrictedMapSplits2M, Metrics.PageTablePages, Metrics.PageblockFlips, Metrics.UnmappedPageblocks,
            Metrics.PerAllocationUnmaps, Metrics.BytesZeroed, Metrics.MermapLocalFlushes, Metrics.Extfrag, Metrics.FreePagesIn2mBlocks,
        ];
        var names = r.Metrics.Keys.ToList();
        double baseNs = r.EstimatedNs.GetValueOrDefault("noasi");
        e.WriteLine();
        e.WriteLine($"{"",-28}" + string.Concat(names.Select(n => $"{n,22}")));
        e.WriteLine($"{"estimated CPU time (ms)",-28}" + string.Concat(names.Select(n => $"{r.EstimatedNs[n] / 1e6,22:N3}")));
        if (baseNs > 0) e.WriteLine($"{"  vs noasi",-28}" + string.Concat(names.Select(n => $"{(r.EstimatedNs[n] / baseNs - 1) * 100,21:+0.0;-0.0;0.0}%")));
        foreach (var row in rows)
            if (names.Any(n => r.Metrics[n].GetValueOrDefault(row.Name) != 0))
                e.WriteLine($"{row.Name,-28}" + string.Concat(names.Select(n => $"{r.Metrics[n].GetValueOrDefault(row.Name),22:N0}")));
        var first = r.Metrics[names[0]];
        e.WriteLine($"requests: {first.GetValueOrDefault(Metrics.Allocations.Name):N0} allocations ({first.GetValueOrDefault(Metrics.AllocationsSensitive.Name):N0} sensitive, {first.GetValueOrDefault(Metrics.AllocationsUnmapped.Name):N0} unmapped), {first.GetValueOrDefault(Metrics.Frees.Name):N0} frees; every metric is in totals.parquet and --json");
        // One classification feeds every policy: the counts are the same in each.
        bool directMapPolicies = names.Any(n => n.StartsWith("unmapped", StringComparison.Ordinal) || n.StartsWith("secretfree", StringComparison.Ordinal));
        if (directMapPolicies && first.GetValueOrDefault(Metrics.Allocations.Name) > 0 && first.GetValueOrDefault(Metrics.AllocationsUnmapped.Name) == 0)
            e.WriteLine("note: no allocation was classified unmapped, so unmapped and secretfree replay as noasi; add a rule such as --classify 'comm=firecracker:unmapped'");
        if (r.Anomalies.Count > 0)
        {
            e.WriteLine("anomalies (resolved):");
            foreach (var (k, v) in r.Anomalies.OrderBy(p => p.Key, StringComparer.Ordinal)) e.WriteLine($"  {k,-34} {v,16:N0}");
        }
        foreach (var a in r.Assumptions) e.WriteLine($"assumption: {a}");
        e.WriteLine($"results in {outDir}/ (totals.parquet, series.parquet, fidelity.parquet, attribution.parquet, run.json)");
    }
}
