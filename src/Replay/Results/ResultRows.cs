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
    /// <summary>pass, fail, vacuous (the check could not fail) or reported (no target).</summary>
    public string Verdict { get; set; } = "";
    /// <summary>prediction, or in-sample when the model was seeded or anchored with the trace's own figure.</summary>
    public string Basis { get; set; } = "";
    public string Note { get; set; } = "";
}

/// <summary>A row of <c>pageblocks.parquet</c>: one cell of the physical-memory map.</summary>
public sealed class PageblockRow
{
    public string Policy { get; set; } = "";
    public long TsNs { get; set; }
    public int Bucket { get; set; }
    public double Flagged { get; set; }
}

/// <summary>A row of <c>mix.parquet</c>: allocations by order, migratetype and class.</summary>
public sealed class MixRow
{
    public int Order { get; set; }
    public int Migratetype { get; set; }
    public string Class { get; set; } = "";
    public long Requests { get; set; }
}

/// <summary>A row of <c>series.parquet</c>: a policy's cumulative metric at a trace time.</summary>
public sealed class SeriesRow
{
    public string Policy { get; set; } = "";
    public long TsNs { get; set; }
    public string Metric { get; set; } = "";
    public double Value { get; set; }
}
