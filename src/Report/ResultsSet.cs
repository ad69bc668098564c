using System.Text.Json;
using Parquet.Serialization;
using Parquet.Serialization.Attributes;
using AsiTrace.Replay.Results;

namespace AsiTrace.Report;

/// <summary>Everything a results directory holds, read back from its Parquet files and run.json.</summary>
public sealed class ResultsSet
{
    public required string Directory { get; init; }
    public List<TotalsRow> Totals { get; init; } = new();
    public List<SeriesRow> Series { get; init; } = new();
    public List<FidelityRow> Fidelity { get; init; } = new();
    public List<PageblockRow> Pageblocks { get; init; } = new();
    public List<MixRow> Mix { get; init; } = new();
    /// <summary>Costs by who caused them (attribution.parquet); empty in results written before it existed.</summary>
    public List<AttributionRow> Attribution { get; init; } = new();
    public JsonDocument? Run { get; init; }

    public IReadOnlyList<string> Policies => Totals.Select(t => t.Policy).Distinct().ToList();
    /// <summary>The policy's total of <paramref name="metric"/>; 0 when the policy does not have it (restricted-map
    /// figures exist only under ASI, pcp figures only under noasi).</summary>
    public double Total(string policy, Metric metric) => Totals.FirstOrDefault(t => t.Policy == policy && t.Metric == metric.Name)?.Value ?? 0;

    /// <summary><see cref="Total(string, Metric)"/> by name, for names read from files or the command line; a name no
    /// replay writes is an error (<see cref="Metrics.IsKnown"/>).</summary>
    public double Total(string policy, string metric)
    {
        if (!Metrics.IsKnown(metric)) throw new KeyNotFoundException($"unknown metric '{metric}'");
        return Totals.FirstOrDefault(t => t.Policy == policy && t.Metric == metric)?.Value ?? 0;
    }

    public bool Has(string policy, Metric metric) => Has(policy, metric.Name);
    public bool Has(string policy, string metric) => Totals.Any(t => t.Policy == policy && t.Metric == metric);

    /// <summary>The trace's first and last event times (run.json's result), the origin and end of every time axis; null in
    /// results written before they were recorded.</summary>
    public long? TraceStartNs => ResultLong("trace_start_ns");
    public long? TraceEndNs => ResultLong("trace_end_ns");

    /// <summary>The span a <c>replay --window</c> counted (trace time); null for a whole-trace replay.</summary>
    public long? WindowStartNs => ResultLong("window_start_ns");
    public long? WindowEndNs => ResultLong("window_end_ns");

    /// <summary>With <c>report --window</c>: the part of the replay the charts were clipped to (trace time), and why.</summary>
    public (long FromNs, long ToNs, string Text)? ChartWindow { get; init; }

    /// <summary>The same results with the time series and pageblock maps clipped to [<paramref name="fromNs"/>,
    /// <paramref name="toNs"/>] of trace time. Totals, attribution and fidelity stay the replay's: they are not series.</summary>
    public ResultsSet ClipCharts(long fromNs, long toNs, string text) => new()
    {
        Directory = Directory, Totals = Totals, Fidelity = Fidelity, Mix = Mix, Attribution = Attribution, Run = Run,
        Series = Series.Where(s => s.TsNs >= fromNs && s.TsNs <= toNs).ToList(),
        Pageblocks = Pageblocks.Where(p => p.TsNs >= fromNs && p.TsNs <= toNs).ToList(),
        ChartWindow = (fromNs, toNs, text),
    };

    long? ResultLong(string name) =>
        Run?.RootElement.TryGetProperty("result", out var res) == true && res.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x) ? x : null;

    /// <summary>The replayed inputs' SHA-256 (run.json), joined: equal keys mean the same trace. Null without run.json.</summary>
    public string? InputKey
    {
        get
        {
            if (Run?.RootElement.TryGetProperty("inputs", out var inputs) != true) return null;
            return string.Join('+', inputs.EnumerateArray().Select(i => i.TryGetProperty("sha256", out var h) ? h.GetString() : "?"));
        }
    }

    /// <summary>The cost constants the replay used (run.json), by name: value and unit, or the value of a plain number.</summary>
    public Dictionary<string, string> Costs
    {
        get
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Run?.RootElement.TryGetProperty("costs", out var costs) != true) return d;
            foreach (var c in costs.EnumerateObject())
                d[c.Name] = c.Value.ValueKind == JsonValueKind.Object && c.Value.TryGetProperty("value", out var v)
                    ? $"{v.GetRawText()} {(c.Value.TryGetProperty("unit", out var u) ? u.GetString() : "")}".Trim()
                    : c.Value.ValueKind == JsonValueKind.Number ? c.Value.GetRawText() : "";
            return d;
        }
    }

    /// <summary>A results directory, or a directory of them (one per trace or run): every results set below
    /// <paramref name="dir"/> that has a totals.parquet, in name order.</summary>
    public static List<ResultsSet> LoadAll(string dir)
    {
        if (File.Exists(Path.Combine(dir, "totals.parquet"))) return [Load(dir)];
        // A fleet's output: the traces its corpus.parquet lists as replayed, in its order.
        string corpus = Path.Combine(dir, "corpus.parquet");
        if (File.Exists(corpus))
        {
            List<FleetEntry> entries;
            try { entries = ParquetSerializer.DeserializeAsync<FleetEntry>(corpus).GetAwaiter().GetResult().Data.ToList(); }
            catch (Exception e) when (e is not OutOfMemoryException and not IOException) { throw new InvalidDataException($"{corpus}: not a fleet's corpus.parquet ({e.Message})"); }
            var ok = entries.Where(e => e.Status == "ok").Select(e => Load(Path.Combine(dir, e.Results))).ToList();
            if (ok.Count == 0) throw new FileNotFoundException($"{corpus}: no trace of this fleet replayed successfully");
            return ok;
        }
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: results directory not found");
        var sets = System.IO.Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal)
            .Where(d => File.Exists(Path.Combine(d, "totals.parquet"))).Select(Load).ToList();
        if (sets.Count == 0) throw new FileNotFoundException($"{dir}: no totals.parquet in it or in its subdirectories (is this a results directory made by asitrace replay?)");
        return sets;
    }

    public static ResultsSet Load(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: results directory not found");
        string totals = Path.Combine(dir, "totals.parquet");
        if (!File.Exists(totals)) throw new FileNotFoundException($"{dir}: no totals.parquet (is this a results directory made by asitrace replay?)");
        List<T> Read<T>(string name) where T : class, new()
        {
            string p = Path.Combine(dir, name);
            if (!File.Exists(p)) return new();
            try { return ParquetSerializer.DeserializeAsync<T>(p).GetAwaiter().GetResult().Data.ToList(); }
            catch (Exception e) when (e is not OutOfMemoryException) { throw new InvalidDataException($"{p}: not a readable results file ({e.Message})"); }
        }
        string run = Path.Combine(dir, "run.json");
        return new ResultsSet
        {
            Directory = dir,
            Totals = Read<TotalsRow>("totals.parquet"),
            Series = Read<SeriesRow>("series.parquet"),
            Fidelity = Read<FidelityRow>("fidelity.parquet"),
            Pageblocks = Read<PageblockRow>("pageblocks.parquet"),
            Mix = Read<MixRow>("mix.parquet"),
            Attribution = Read<AttributionRow>("attribution.parquet"),
            Run = File.Exists(run) ? JsonDocument.Parse(File.ReadAllText(run)) : null,
        };
    }
}

/// <summary>The columns of a fleet's <c>corpus.parquet</c> that <see cref="ResultsSet.LoadAll"/> needs.</summary>
sealed class FleetEntry
{
    [ParquetRequired, System.Text.Json.Serialization.JsonPropertyName("status")] public string Status { get; set; } = "";
    [ParquetRequired, System.Text.Json.Serialization.JsonPropertyName("results")] public string Results { get; set; } = "";
}
