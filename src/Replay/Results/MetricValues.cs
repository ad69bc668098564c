namespace AsiTrace.Replay.Results;

/// <summary>One policy's metric values, keyed by registered metric name, in the order they were first set (the
/// order <c>totals.parquet</c> and <c>replay --json</c> list them).</summary>
public sealed class MetricValues : Dictionary<string, double>
{
    public MetricValues() : base(StringComparer.Ordinal) { }

    public double this[Metric m]
    {
        get => TryGetValue(m.Name, out double v) ? v : throw new KeyNotFoundException($"metric '{m.Name}' was not computed");
        set => this[m.Name] = value;
    }

    /// <summary>Sets a per-zone, per-CPU family member (<see cref="Metrics.PcpCount"/>, <see cref="Metrics.PcpHigh"/>).</summary>
    public void SetFamily(string name, double value)
    {
        if (!Metrics.IsKnown(name)) throw new KeyNotFoundException($"unknown metric '{name}'");
        this[name] = value;
    }
}
