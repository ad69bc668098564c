namespace AsiTrace.Replay.Results;

/// <summary>A row of <c>totals.parquet</c>: one policy × metric.</summary>
public sealed class TotalsRow
{
    public string Policy { get; set; } = "";
    public string Metric { get; set; } = "";
    public double Value { get; set; }
}

/// <summary>A row of <c>fidelity.parquet</c>: one trace-vs-model figure of the <c>noasi</c> replay.</summary>
public sealed class FidelityRow
{
    public string Check { get; set; } = "";
    public double Trace { get; set; }
    public double Model { get; set; }
    public double RelativeError { get; set; }
    public double? Tolerance { get; set; }
    public bool? WithinTolerance { get; set; }
    public string Note { get; set; } = "";
}

/// <summary>A row of <c>series.parquet</c>: a policy's cumulative metric at a trace time.</summary>
public sealed class SeriesRow
{
    public string Policy { get; set; } = "";
    public long TsNs { get; set; }
    public string Metric { get; set; } = "";
    public double Value { get; set; }
}
