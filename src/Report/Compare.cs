using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AsiTrace.Replay.Results;

namespace AsiTrace.Report;

/// <summary>A gate: <c>METRIC&gt;+PCT</c> (relative increase in percent), optionally <c>policy:METRIC&gt;+PCT</c>.</summary>
public sealed record Gate(string? Policy, string Metric, double Percent, string Text)
{
    public static Gate Parse(string text)
    {
        int gt = text.IndexOf(">+", StringComparison.Ordinal);
        if (gt <= 0) throw new FormatException($"--fail-on '{text}': expected METRIC>+PCT, e.g. estimated_ns>+5%");
        string left = text[..gt], right = text[(gt + 2)..].TrimEnd('%');
        if (!double.TryParse(right, NumberStyles.Float, CultureInfo.InvariantCulture, out double pct) || pct < 0)
            throw new FormatException($"--fail-on '{text}': '{right}' is not a percentage");
        int colon = left.IndexOf(':');
        var gate = colon > 0 ? new Gate(left[..colon], left[(colon + 1)..], pct, text) : new Gate(null, left, pct, text);
        if (!Metrics.IsKnown(gate.Metric)) throw new FormatException($"--fail-on '{text}': unknown metric '{gate.Metric}' (e.g. {Metrics.EstimatedNs}, {Metrics.AsiExits}, {Metrics.KernelRangeFlushes})");
        return gate;
    }
}

/// <summary>One policy × metric, base against candidate.</summary>
public sealed record MetricChange(string Policy, string Metric, double Base, double Candidate, double? PValue, Gate? Gate, bool Regression)
{
    public double Delta => Candidate - Base;
    public double? Relative => Base == 0 ? (Candidate == 0 ? 0 : null) : (Candidate - Base) / Math.Abs(Base);
}

/// <summary>
/// <c>asitrace compare</c>: the regression gate for allocator changes replayed on stored traces. Totals of the same
/// policies and metrics side by side; metrics that have a time series also get a permutation test on their
/// per-interval increments (difference of means, two-sided, as Firecracker's A/B tool does). A change is a regression
/// only when it exceeds its gate's threshold and is significant (p &lt; <see cref="Alpha"/>); a metric without a series
/// comes from a deterministic replay, so any change in it is real and only the threshold applies.
/// </summary>
public static class Compare
{
    public const double Alpha = 0.05;
    const int Permutations = 10_000;

    public static List<MetricChange> Run(ResultsSet baseline, ResultsSet candidate, IReadOnlyList<Gate> gates)
    {
        var changes = new List<MetricChange>();
        foreach (var policy in baseline.Policies.Where(p => candidate.Policies.Contains(p)))
            foreach (var metric in baseline.Totals.Where(t => t.Policy == policy).Select(t => t.Metric).Distinct().Where(m => Metrics.IsKnown(m) && candidate.Has(policy, m)))
            {
                double b = baseline.Total(policy, metric), c = candidate.Total(policy, metric);
                var gate = gates.FirstOrDefault(g => g.Metric == metric && (g.Policy is null || g.Policy == policy));
                double? p = PValue(baseline, candidate, policy, metric);
                bool regression = false;
                if (gate is not null)
                {
                    double rel = b == 0 ? (c > 0 ? double.PositiveInfinity : 0) : (c - b) / Math.Abs(b) * 100;
                    regression = rel > gate.Percent && (p is null || p < Alpha);
                }
                changes.Add(new MetricChange(policy, metric, b, c, p, gate, regression));
            }
        foreach (var g in gates)
            if (!changes.Any(c => c.Metric == g.Metric && (g.Policy is null || g.Policy == c.Policy)))
                throw new FormatException($"--fail-on '{g.Text}': no policy in both results has metric '{g.Metric}'");
        return changes;
    }

    /// <summary>Per-interval increments of a cumulative series.</summary>
    static double[] Increments(ResultsSet r, string policy, string metric)
    {
        var v = r.Series.Where(s => s.Policy == policy && s.Metric == metric).OrderBy(s => s.TsNs).Select(s => s.Value).ToArray();
        if (v.Length < 2) return [];
        var d = new double[v.Length - 1];
        for (int i = 1; i < v.Length; i++) d[i - 1] = v[i] - v[i - 1];
        return d;
    }

    /// <summary>Two-sided permutation test of the difference of means (seeded: the same inputs give the same p).</summary>
    public static double? PValue(ResultsSet a, ResultsSet b, string policy, string metric)
    {
        var x = Increments(a, policy, metric);
        var y = Increments(b, policy, metric);
        if (x.Length < 2 || y.Length < 2) return null;
        return PermutationTest(x, y, Permutations, seed: 12345);
    }

    public static double PermutationTest(double[] x, double[] y, int permutations, int seed)
    {
        double observed = Math.Abs(x.Average() - y.Average());
        var all = x.Concat(y).ToArray();
        var rng = new Random(seed);
        int extreme = 0;
        for (int p = 0; p < permutations; p++)
        {
            for (int i = all.Length - 1; i > 0; i--) { int j = rng.Next(i + 1); (all[i], all[j]) = (all[j], all[i]); }
            double sa = 0, sb = 0;
            for (int i = 0; i < x.Length; i++) sa += all[i];
            for (int i = x.Length; i < all.Length; i++) sb += all[i];
            if (Math.Abs(sa / x.Length - sb / y.Length) >= observed - 1e-12) extreme++;
        }
        return (extreme + 1.0) / (permutations + 1.0);
    }

    static string N(double v) => Math.Abs(v) >= 1e6 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A markdown table for a pull-request comment: every gated metric and every metric that changed.</summary>
    public static string Markdown(List<MetricChange> changes)
    {
        var sb = new StringBuilder();
        var failed = changes.Where(c => c.Regression).ToList();
        sb.AppendLine(failed.Count == 0 ? "**asitrace compare: no regression**" : $"**asitrace compare: {failed.Count} regression(s)**");
        sb.AppendLine();
        sb.AppendLine("| policy | metric | base | candidate | change | relative | p | gate |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var c in changes.Where(c => c.Gate is not null || c.Delta != 0).OrderByDescending(c => c.Regression).ThenBy(c => c.Policy, StringComparer.Ordinal).ThenBy(c => c.Metric, StringComparer.Ordinal))
        {
            string rel = c.Relative is { } r ? r.ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture) : "new";
            string p = c.PValue is { } pv ? pv.ToString("0.000", CultureInfo.InvariantCulture) : "–";
            string gate = c.Gate is null ? "" : c.Regression ? $"**FAIL** ({c.Gate.Text})" : $"ok ({c.Gate.Text})";
            sb.AppendLine($"| {c.Policy} | {c.Metric} | {N(c.Base)} | {N(c.Candidate)} | {(c.Delta >= 0 ? "+" : "")}{N(c.Delta)} | {rel} | {p} | {gate} |");
        }
        return sb.ToString();
    }

    public static JsonObject Json(List<MetricChange> changes)
    {
        var arr = new JsonArray();
        foreach (var c in changes)
            arr.Add(new JsonObject
            {
                ["policy"] = c.Policy, ["metric"] = c.Metric, ["base"] = c.Base, ["candidate"] = c.Candidate, ["change"] = c.Delta,
                ["relative"] = c.Relative, ["p_value"] = c.PValue, ["gate"] = c.Gate?.Text, ["regression"] = c.Regression,
            });
        return new JsonObject { ["regressions"] = changes.Count(c => c.Regression), ["changes"] = arr };
    }
}
