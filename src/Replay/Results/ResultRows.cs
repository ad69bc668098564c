using System.Text.Json.Serialization;
using Parquet.Serialization.Attributes;

namespace AsiTrace.Replay.Results;

/// <summary>A row of <c>totals.parquet</c>: one policy × metric.</summary>
public sealed class TotalsRow
{
    [ParquetRequired, JsonPropertyName("policy")]
    public string Policy { get; set; } = "";
    [ParquetRequired, JsonPropertyName("metric")]
    public string Metric { get; set; } = "";
    [JsonPropertyName("value")]
    public double Value { get; set; }
    /// <summary>The value as an integer when the metric counts things (<see cref="Metrics.IsCount"/>); null for ns and %.</summary>
    [JsonPropertyName("count")]
    public long? Count { get; set; }
}

/// <summary>A row of <c>fidelity.parquet</c>: one trace-vs-model figure of the <c>noasi</c> replay.</summary>
public sealed class FidelityRow
{
    [ParquetRequired, JsonPropertyName("check")]
    public string Check { get; set; } = "";
    [JsonPropertyName("trace")]
    public double Trace { get; set; }
    [JsonPropertyName("model")]
    public double Model { get; set; }
    [JsonPropertyName("relative_error")]
    public double RelativeError { get; set; }
    [JsonPropertyName("tolerance")]
    public double? Tolerance { get; set; }
    [JsonPropertyName("within_tolerance")]
    public bool? WithinTolerance { get; set; }
    /// <summary>pass, fail, vacuous (the check could not fail) or reported (no target).</summary>
    [ParquetRequired, JsonPropertyName("verdict")]
    public string Verdict { get; set; } = "";
    /// <summary>prediction, or in-sample when the model was seeded or anchored with the trace's own figure.</summary>
    [ParquetRequired, JsonPropertyName("basis")]
    public string Basis { get; set; } = "";
    [ParquetRequired, JsonPropertyName("note")]
    public string Note { get; set; } = "";
}

/// <summary>A row of <c>pageblocks.parquet</c>: one cell of the physical-memory map.</summary>
public sealed class PageblockRow
{
    [ParquetRequired, JsonPropertyName("policy")]
    public string Policy { get; set; } = "";
    [JsonPropertyName("ts_ns")]
    public long TsNs { get; set; }
    [JsonPropertyName("bucket")]
    public int Bucket { get; set; }
    [JsonPropertyName("flagged")]
    public double Flagged { get; set; }
}

/// <summary>A row of <c>mix.parquet</c>: allocations by order, migratetype and class.</summary>
public sealed class MixRow
{
    [JsonPropertyName("order")]
    public int Order { get; set; }
    [JsonPropertyName("migratetype")]
    public int Migratetype { get; set; }
    [ParquetRequired, JsonPropertyName("class")]
    public string Class { get; set; } = "";
    [JsonPropertyName("requests")]
    public long Requests { get; set; }
}

/// <summary>A row of <c>series.parquet</c>: a policy's cumulative metric at a trace time.</summary>
public sealed class SeriesRow
{
    [ParquetRequired, JsonPropertyName("policy")]
    public string Policy { get; set; } = "";
    [JsonPropertyName("ts_ns")]
    public long TsNs { get; set; }
    [ParquetRequired, JsonPropertyName("metric")]
    public string Metric { get; set; } = "";
    [JsonPropertyName("value")]
    public double Value { get; set; }
    /// <summary>The value as an integer when the metric counts things; null for ns and %.</summary>
    [JsonPropertyName("count")]
    public long? Count { get; set; }
}
