using System.Text.Json.Serialization;
using Parquet;
using Parquet.Serialization;
using Parquet.Serialization.Attributes;

namespace AsiTrace.Fleet;

/// <summary>A row of <c>OUT/corpus.parquet</c>: one trace of a fleet run.</summary>
public sealed class CorpusRow
{
    [ParquetRequired, JsonPropertyName("trace")] public string Trace { get; set; } = "";
    [ParquetRequired, JsonPropertyName("input")] public string Input { get; set; } = "";
    [ParquetRequired, JsonPropertyName("input_sha256")] public string InputSha256 { get; set; } = "";
    [ParquetRequired, JsonPropertyName("options_sha256")] public string OptionsSha256 { get; set; } = "";
    [ParquetRequired, JsonPropertyName("status")] public string Status { get; set; } = "";
    [JsonPropertyName("exit_code")] public int ExitCode { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("events")] public long Events { get; set; }
    [JsonPropertyName("wall_ms")] public long WallMs { get; set; }
    [JsonPropertyName("peak_rss_bytes")] public long PeakRssBytes { get; set; }
    [JsonPropertyName("headline")] public string? Headline { get; set; }
    [ParquetRequired, JsonPropertyName("engine")] public string Engine { get; set; } = "";
    /// <summary>The results directory, relative to the fleet's output (<c>trace=&lt;id&gt;</c>).</summary>
    [ParquetRequired, JsonPropertyName("results")] public string Results { get; set; } = "";
}

/// <summary><c>OUT/corpus.parquet</c>: written from the tasks' records after every run, read by <c>compare</c>.</summary>
public static class CorpusTable
{
    public const string FileName = "corpus.parquet";

    public static List<CorpusRow> Rows(FleetPlan plan) => plan.Traces.OrderBy(t => t.Id, StringComparer.Ordinal).Select(t =>
    {
        var r = TaskRecord.TryLoad(plan.TraceDir(t));
        return new CorpusRow
        {
            Trace = t.Id, Input = t.Input, InputSha256 = t.Sha256, OptionsSha256 = r?.OptionsSha256 ?? plan.OptionsSha256,
            Status = r?.Status ?? "missing", ExitCode = r?.ExitCode ?? 0, Error = r?.Error, Events = r?.Events ?? 0, WallMs = r?.WallMs ?? 0,
            PeakRssBytes = r?.PeakRssBytes ?? 0, Headline = r?.Headline, Engine = r?.Engine ?? "", Results = $"trace={t.Id}",
        };
    }).ToList();

    public static void Write(FleetPlan plan, List<CorpusRow> rows)
    {
        string path = Path.Combine(plan.OutDir, FileName), tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
            ParquetSerializer.SerializeAsync(rows, fs, new ParquetOptions { CompressionMethod = CompressionMethod.Zstd }).GetAwaiter().GetResult();
        File.Move(tmp, path, overwrite: true);
    }

    public static List<CorpusRow> Read(string path)
    {
        try { return ParquetSerializer.DeserializeAsync<CorpusRow>(path).GetAwaiter().GetResult().Data.ToList(); }
        catch (Exception e) when (e is not OutOfMemoryException and not IOException) { throw new InvalidDataException($"{path}: not a fleet's corpus.parquet ({e.Message})"); }
    }
}
