using System.Globalization;
using AsiTrace.Replay.Results;

namespace AsiTrace.Report.Comparing;

/// <summary>
/// A gate, <c>[each:][POLICY:]METRIC&gt;+PCT</c>: fail when the metric rises by more than PCT percent. Over a corpus of
/// traces the gate applies to the aggregate (geometric mean of the ratios), or with <c>each:</c> to every single trace.
/// </summary>
public sealed record Gate(bool Each, string? Policy, string Metric, double Percent, string Text)
{
    public static Gate Parse(string text)
    {
        int gt = text.IndexOf(">+", StringComparison.Ordinal);
        if (gt <= 0) throw new FormatException($"--fail-on '{text}': expected [each:][POLICY:]METRIC>+PCT, e.g. 'estimated_ns>+5%' (quote it: > is a shell redirect)");
        string left = text[..gt], right = text[(gt + 2)..].TrimEnd('%');
        if (!double.TryParse(right, NumberStyles.Float, CultureInfo.InvariantCulture, out double pct) || pct < 0)
            throw new FormatException($"--fail-on '{text}': '{right}' is not a percentage");
        bool each = left.StartsWith("each:", StringComparison.Ordinal);
        if (each) left = left[5..];
        int colon = left.IndexOf(':');
        var gate = colon > 0 ? new Gate(each, left[..colon], left[(colon + 1)..], pct, text) : new Gate(each, null, left, pct, text);
        if (!Metrics.IsKnown(gate.Metric)) throw new FormatException($"--fail-on '{text}': unknown metric '{gate.Metric}' (e.g. {Metrics.EstimatedNs}, {Metrics.AsiExits}, {Metrics.KernelRangeFlushes})");
        return gate;
    }

    public bool Applies(string policy, string metric) => Metric == metric && (Policy is null || Policy == policy);

    /// <summary>Does a change from <paramref name="b"/> to <paramref name="c"/> pass the threshold?</summary>
    public bool Exceeded(double b, double c) => RelativePercent(b, c) > Percent;

    public static double RelativePercent(double b, double c) => b == 0 ? (c > 0 ? double.PositiveInfinity : 0) : (c - b) / Math.Abs(b) * 100;
}
