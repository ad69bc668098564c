using AsiTrace.Replay.Fidelity;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Serialization;

namespace AsiTrace.Replay.Results;

/// <summary>Writes a replay's results: <c>totals.parquet</c>, <c>fidelity.parquet</c>, <c>run.json</c> (docs/formats.md §13),
/// and the <c>replay --json</c> object of the CLI contract.</summary>
public static class ResultsWriter
{
    static readonly ParquetOptions Options = new() { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = System.IO.Compression.CompressionLevel.Fastest };

    public static List<TotalsRow> Totals(ReplayResult r)
    {
        var rows = new List<TotalsRow>();
        foreach (var (policy, metrics) in r.Metrics)
        {
            rows.Add(new TotalsRow { Policy = policy, Metric = Metrics.EstimatedNs.Name, Value = r.EstimatedNs.GetValueOrDefault(policy) });
            foreach (var (k, v) in metrics) rows.Add(new TotalsRow { Policy = policy, Metric = k, Value = v, Count = Metrics.CountOf(k, v) });
        }
        return rows;
    }

    public static List<FidelityRow> Fidelity(ReplayResult r) => r.Fidelity.Select(f => new FidelityRow
    {
        Check = f.Name, Trace = f.Trace, Model = f.Model, RelativeError = f.RelativeError, Tolerance = f.Tolerance,
        WithinTolerance = f.WithinTolerance, Verdict = f.Verdict, Basis = BasisName(f.Basis), Note = f.Note,
    }).ToList();

    public static string BasisName(FidelityBasis b) => b switch
    {
        FidelityBasis.InSample => "in-sample",
        FidelityBasis.GuessedStart => "guessed-start",
        _ => "prediction",
    };

    public static async Task WriteTotalsAsync(ReplayResult r, Stream s) => await ParquetSerializer.SerializeAsync(Totals(r), s, Options);

    public static async Task WriteFidelityAsync(ReplayResult r, Stream s) => await ParquetSerializer.SerializeAsync(Fidelity(r), s, Options);

    public static async Task WriteSeriesAsync(ReplayResult r, Stream s) =>
        await ParquetSerializer.SerializeAsync(r.Series.Select(p => new SeriesRow { Policy = p.Policy, TsNs = p.TsNs, Metric = p.Metric, Value = p.Value, Count = Metrics.CountOf(p.Metric, p.Value) }).ToList(), s, Options);

    public static async Task WritePageblocksAsync(ReplayResult r, Stream s) =>
        await ParquetSerializer.SerializeAsync(r.Pageblocks.Select(p => new PageblockRow { Policy = p.Policy, TsNs = p.TsNs, Bucket = p.Bucket, Flagged = p.Flagged }).ToList(), s, Options);

    public static async Task WriteAttributionAsync(ReplayResult r, Stream s) => await ParquetSerializer.SerializeAsync(r.Attribution, s, Options);

    public static async Task WriteMixAsync(ReplayResult r, Stream s) =>
        await ParquetSerializer.SerializeAsync(r.Mix.OrderBy(k => k.Key.Order).ThenBy(k => k.Key.Mt).ThenBy(k => k.Key.Class)
            .Select(k => new MixRow { Order = k.Key.Order, Migratetype = k.Key.Mt, Class = k.Key.Class.ToString().ToLowerInvariant(), Requests = k.Value }).ToList(), s, Options);

    /// <summary>The CLI contract's <c>replay --json</c> object.</summary>
    public static JsonObject ToJson(ReplayResult r)
    {
        var policies = new JsonObject();
        foreach (var (policy, metrics) in r.Metrics)
        {
            var m = new JsonObject();
            foreach (var (k, v) in metrics) m[k] = JsonNumber(v);
            policies[policy] = new JsonObject
            {
                [Metrics.EstimatedNs.Name] = JsonNumber(r.EstimatedNs.GetValueOrDefault(policy)),
                [Metrics.OverheadPct.Name] = metrics.TryGetValue(Metrics.OverheadPct.Name, out double o) ? JsonNumber(o) : null,
                ["overhead_range_pct"] = metrics.TryGetValue(Metrics.OverheadLowPct.Name, out double lo) && metrics.TryGetValue(Metrics.OverheadHighPct.Name, out double hi)
                    ? new JsonArray(JsonNumber(lo), JsonNumber(hi)) : null,
                ["most_sensitive_to"] = new JsonArray(metrics.Where(kv => kv.Key.StartsWith("overhead_swing_", StringComparison.Ordinal) && kv.Value > 0)
                    .OrderByDescending(kv => kv.Value).Take(3).Select(kv => (JsonNode?)kv.Key["overhead_swing_".Length..^"_pct".Length]).ToArray()),
                [Metrics.WorkloadCpuNs.Name] = r.Workload is { } w ? JsonNumber(w.CpuNs) : null,
                [Metrics.AsiExits.Name] = JsonNumber(metrics.GetValueOrDefault(Metrics.AsiExits.Name)),
                // The contract: null where the trace shows no entries (the inferred count stays in metrics).
                [Metrics.KernelEntries.Name] = r.KernelEntriesBasis == "inferred" ? null : JsonNumber(metrics.GetValueOrDefault(Metrics.KernelEntries.Name)),
                ["kernel_entries_basis"] = r.KernelEntriesBasis,
                ["metrics"] = m,
            };
        }
        var fidelity = new JsonObject();
        foreach (var f in r.Fidelity)
        {
            var o = new JsonObject { ["trace"] = JsonNumber(f.Trace), ["model"] = JsonNumber(f.Model) };
            if (f.Tolerance is { } t) { o["tolerance"] = t; o["within_tolerance"] = f.WithinTolerance; }
            o["verdict"] = f.Verdict;
            o["basis"] = BasisName(f.Basis);
            fidelity[f.Name] = o;
        }
        var anomalies = new JsonObject();
        foreach (var (k, v) in r.Anomalies.OrderBy(p => p.Key, StringComparer.Ordinal)) anomalies[k] = v;
        return new JsonObject
        {
            ["events"] = r.Events,
            ["trace_start_ns"] = r.TraceStartNs,
            ["trace_end_ns"] = r.TraceEndNs,
            ["series_interval_ns"] = r.SeriesIntervalNs,
            ["window_start_ns"] = r.WindowStartNs,
            ["window_end_ns"] = r.WindowEndNs,
            ["workload"] = r.Workload is { } wl ? new JsonObject { ["cpu_ns"] = JsonNumber(wl.CpuNs), ["source"] = wl.Source, ["note"] = wl.Note } : null,
            ["policies"] = policies,
            ["fidelity"] = fidelity,
            ["anomalies"] = anomalies,
            ["lost_events"] = r.LostEvents,
            ["kernel"] = new JsonObject { ["release"] = r.KernelRelease, ["fallback_rules"] = r.FallbackRules.ToString(), ["pcp_rules"] = r.PcpRules.ToString() },
            ["assumptions"] = new JsonArray(r.Assumptions.Select(a => (JsonNode?)a).ToArray()),
            ["ingest_counters"] = new JsonArray(r.IngestCounters.Select(c => (JsonNode?)new JsonObject { ["name"] = c.Name, ["severity"] = c.Severity, ["value"] = c.Value }).ToArray()),
        };
    }

    /// <summary>Integral values print as integers; infinities (a figure the trace has as zero) as null.</summary>
    static JsonNode? JsonNumber(double v) =>
        double.IsFinite(v) ? (v == Math.Floor(v) && Math.Abs(v) < 9e15 ? JsonValue.Create((long)v) : JsonValue.Create(v)) : null;

    // Relaxed escaping: policy names such as asi-freetypes+mermap stay readable ('+' is not \u002B); the report escapes
    // the text for HTML itself.
    public static string ToJsonText(JsonNode n) =>
        n.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
