using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AsiTrace.Replay.Results;

namespace AsiTrace.Report.Comparing;

/// <summary>A comparison as a markdown comment for a pull request, or as JSON.</summary>
public static class CompareOutput
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Thousands separators at every size; decimals only where the value has them.</summary>
    public static string Number(double v) =>
        double.IsNaN(v) ? "–" : Math.Abs(v) >= 100 || v == Math.Floor(v) ? v.ToString("#,0", Inv) : v.ToString("#,0.###", Inv);

    static string Unit(string metric) => Metrics.IsKnown(metric) && Metrics.All.FirstOrDefault(m => m.Name == metric) is { } m ? m.Unit : "";

    static string Rel(MetricChange c) => c.Relative is { } r ? r.ToString("+0.0#%;-0.0#%;0.0%", Inv) : "new";

    public static string Markdown(Comparison cmp)
    {
        var sb = new StringBuilder();
        int failed = cmp.Changes.Count(c => c.Regression) + cmp.PerTrace.Count(c => c.Regression);
        sb.AppendLine(failed == 0 ? "**asitrace compare: no regression**" : $"**asitrace compare: {failed} regression(s)**");
        sb.AppendLine();
        sb.AppendLine($"Comparison: {cmp.ModeText}.");
        foreach (var n in cmp.Notes) sb.AppendLine($"- {n}");
        sb.AppendLine();
        bool corpus = cmp.Mode == CompareMode.Corpus, repeated = cmp.Mode == CompareMode.Repeated;
        string head = corpus ? "| policy | metric | unit | base (sum) | candidate (sum) | geometric mean of ratios | 95 % interval | gate |"
            : repeated ? "| policy | metric | unit | base (mean) | candidate (mean) | change | relative | p | gate |"
            : "| policy | metric | unit | base | candidate | change | relative | gate |";
        sb.AppendLine(head);
        sb.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", 3)) + string.Concat(Enumerable.Repeat("---:|", head.Count(ch => ch == '|') - 5)) + "---|");
        foreach (var c in Rows(cmp.Changes))
        {
            string gate = c.Gate is null ? "" : c.Regression ? $"**FAIL** (`{c.Gate.Text}`)" : $"ok (`{c.Gate.Text}`)";
            string lead = $"| {c.Policy} | {c.Metric} | {Unit(c.Metric)} | {Number(c.Base)} | {Number(c.Candidate)} | ";
            if (corpus)
                sb.AppendLine(lead + (c.Ratio is { } r ? $"{(r - 1).ToString("+0.0#%;-0.0#%;0.0%", Inv)} | {(c.RatioLow!.Value - 1).ToString("+0.0#%;-0.0#%;0.0%", Inv)} … {(c.RatioHigh!.Value - 1).ToString("+0.0#%;-0.0#%;0.0%", Inv)} | " : "– | – | ") + gate + " |");
            else if (repeated)
                sb.AppendLine(lead + $"{(c.Delta >= 0 ? "+" : "")}{Number(c.Delta)} | {Rel(c)} | {(c.PValue is { } p ? p.ToString("0.000", Inv) : "–")} | {gate} |");
            else
                sb.AppendLine(lead + $"{(c.Delta >= 0 ? "+" : "")}{Number(c.Delta)} | {Rel(c)} | {gate} |");
        }
        if (corpus && cmp.PerTrace.Any(c => c.Gate is not null || c.Metric == Metrics.EstimatedNs.Name))
        {
            sb.AppendLine();
            sb.AppendLine("Per trace:");
            sb.AppendLine();
            sb.AppendLine("| trace | policy | metric | base | candidate | relative | gate |");
            sb.AppendLine("|---|---|---|---:|---:|---:|---|");
            foreach (var c in Rows(cmp.PerTrace.Where(c => c.Gate is not null || (c.Metric == Metrics.EstimatedNs.Name && c.Delta != 0)).ToList()))
                sb.AppendLine($"| {c.Trace} | {c.Policy} | {c.Metric} | {Number(c.Base)} | {Number(c.Candidate)} | {Rel(c)} | {(c.Gate is null ? "" : c.Regression ? $"**FAIL** (`{c.Gate.Text}`)" : $"ok (`{c.Gate.Text}`)")} |");
        }
        if (cmp.TopIntervals.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Where in the trace the difference arises (the intervals contributing most):");
            sb.AppendLine();
            sb.AppendLine("| policy | metric | from (s) | to (s) | base | candidate | change |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            long t0 = cmp.TopIntervals.Min(i => i.FromNs);
            foreach (var i in cmp.TopIntervals)
                sb.AppendLine($"| {i.Policy} | {i.Metric} | {(i.FromNs - t0) / 1e9:0.###} | {(i.ToNs - t0) / 1e9:0.###} | {Number(i.Base)} | {Number(i.Candidate)} | {(i.Delta >= 0 ? "+" : "")}{Number(i.Delta)} |");
        }
        return sb.ToString();
    }

    /// <summary>Gated rows first (failures first), then every other row that changed.</summary>
    static IEnumerable<MetricChange> Rows(IReadOnlyList<MetricChange> changes) =>
        changes.Where(c => c.Gate is not null || c.Delta != 0)
            .OrderByDescending(c => c.Regression).ThenByDescending(c => c.Gate is not null)
            .ThenBy(c => c.Trace, StringComparer.Ordinal).ThenBy(c => c.Policy, StringComparer.Ordinal).ThenBy(c => c.Metric, StringComparer.Ordinal);

    static JsonObject Row(MetricChange c) => new()
    {
        ["trace"] = c.Trace, ["policy"] = c.Policy, ["metric"] = c.Metric, ["unit"] = Unit(c.Metric), ["base"] = c.Base, ["candidate"] = c.Candidate,
        ["change"] = c.Delta, ["relative"] = c.Relative, ["p_value"] = c.PValue, ["ratio"] = c.Ratio, ["ratio_low"] = c.RatioLow,
        ["ratio_high"] = c.RatioHigh, ["gate"] = c.Gate?.Text, ["regression"] = c.Regression,
    };

    public static string Json(Comparison cmp)
    {
        var o = new JsonObject
        {
            ["mode"] = cmp.Mode switch { CompareMode.SameTrace => "same_trace", CompareMode.Corpus => "corpus", _ => "repeated" },
            ["description"] = cmp.ModeText,
            ["alpha"] = cmp.Alpha,
            ["regressions"] = cmp.Changes.Count(c => c.Regression) + cmp.PerTrace.Count(c => c.Regression),
            ["notes"] = new JsonArray(cmp.Notes.Select(n => (JsonNode?)n).ToArray()),
            ["changes"] = new JsonArray(cmp.Changes.Select(c => (JsonNode?)Row(c)).ToArray()),
            ["per_trace"] = new JsonArray(cmp.PerTrace.Select(c => (JsonNode?)Row(c)).ToArray()),
            ["top_intervals"] = new JsonArray(cmp.TopIntervals.Select(i => (JsonNode?)new JsonObject
            {
                ["policy"] = i.Policy, ["metric"] = i.Metric, ["from_ns"] = i.FromNs, ["to_ns"] = i.ToNs, ["base"] = i.Base, ["candidate"] = i.Candidate,
            }).ToArray()),
        };
        // Plain characters: '>' and '+' of the gates as they were typed, not \u003E\u002B.
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
