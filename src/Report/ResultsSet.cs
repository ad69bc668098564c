using System.Text.Json;
using Parquet.Serialization;
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
            Run = File.Exists(run) ? JsonDocument.Parse(File.ReadAllText(run)) : null,
        };
    }
}
