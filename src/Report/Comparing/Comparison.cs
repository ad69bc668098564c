using AsiTrace.Replay.Results;

namespace AsiTrace.Report.Comparing;

/// <summary>Which comparison the inputs make (said in the output).</summary>
public enum CompareMode
{
    /// <summary>One stored trace replayed by two models: deterministic, the difference is exact.</summary>
    SameTrace,
    /// <summary>Several traces, each replayed on both sides and matched by input hash.</summary>
    Corpus,
    /// <summary>Several recordings per side of the same workload (different hashes): run-to-run noise is real.</summary>
    Repeated,
}

/// <summary>One policy × metric, base against candidate (for a corpus: the aggregate; for a trace of it: that trace).</summary>
/// <param name="Base">the baseline's value (repeated recordings: the mean of the runs).</param>
/// <param name="Ratio">for a corpus, the geometric mean of the traces' ratios, with its bootstrap interval.</param>
public sealed record MetricChange(string Policy, string Metric, double Base, double Candidate, Gate? Gate, bool Regression,
    double? PValue = null, double? Ratio = null, double? RatioLow = null, double? RatioHigh = null, string? Trace = null)
{
    public double Delta => Candidate - Base;
    public double? Relative => Ratio is { } r ? r - 1 : Base == 0 ? (Candidate == 0 ? 0 : null) : (Candidate - Base) / Math.Abs(Base);
}

/// <summary>Where in the trace a same-trace difference arises: one interval of the series.</summary>
public sealed record IntervalContribution(string Policy, string Metric, long FromNs, long ToNs, double Base, double Candidate)
{
    public double Delta => Candidate - Base;
}

/// <summary>What <see cref="Comparer"/> found.</summary>
public sealed class Comparison
{
    public required CompareMode Mode { get; init; }
    public double Alpha { get; init; } = 0.05;
    public List<MetricChange> Changes { get; } = new();
    /// <summary>Corpus: every trace's changes.</summary>
    public List<MetricChange> PerTrace { get; } = new();
    public List<IntervalContribution> TopIntervals { get; } = new();
    /// <summary>What the reader must know: why there is no p-value, what is on one side only, which constants differ.</summary>
    public List<string> Notes { get; } = new();
    public int BaseRuns { get; init; }
    public int CandidateRuns { get; init; }
    public bool Failed => Changes.Any(c => c.Regression) || PerTrace.Any(c => c.Regression);

    public string ModeText => Mode switch
    {
        CompareMode.SameTrace => "same trace, two models",
        CompareMode.Corpus => $"a corpus of {BaseRuns} traces, two models",
        _ => $"repeated recordings: {BaseRuns} against {CandidateRuns}",
    };
}
