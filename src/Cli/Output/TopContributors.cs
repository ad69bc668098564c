using System.Globalization;
using AsiTrace.Replay;
using AsiTrace.Replay.Results;

namespace AsiTrace.Cli.Output;

/// <summary><c>replay --by KEY</c>: each policy's top contributors to its modelled CPU time, with the extra over noasi's
/// for the same key and the asi_exits, flips and splits they caused.</summary>
static class TopContributors
{
    static readonly Metric[] Counts = [Metrics.AsiExits, Metrics.PageblockFlips, Metrics.DirectMapSplits2M, Metrics.IpisSent];

    public static void Print(TextWriter w, ReplayResult r, string by, int top)
    {
        var rows = r.Attribution;
        bool haveBase = r.Metrics.ContainsKey("noasi");
        foreach (var policy in r.Metrics.Keys)
        {
            string? against = haveBase && policy != "noasi" ? "noasi" : null;
            var best = AttributionTable.Top(rows, policy, by, Metrics.EstimatedNs.Name, top, against);
            var counts = Counts.Select(m => rows.Where(a => a.Policy == policy && a.By == by && a.Metric == m.Name)
                .ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal)).ToArray();
            w.WriteLine($"{policy}: top {best.Count} by {by}, ordered by {(against is null ? "CPU time" : "extra CPU time over noasi")}");
            int width = Math.Min(72, Math.Max(by.Length, best.Count == 0 ? 0 : best.Max(t => t.Key.Length)));
            w.WriteLine($"  {by.PadRight(width)} {"CPU ms",12} {(against is null ? "" : $"{"extra ms",12} ")}" + string.Concat(Counts.Select(m => $" {m.Name,22}")));
            foreach (var (key, value, b) in best)
            {
                string k = key.Length > width ? key[..(width - 1)] + "…" : key;
                w.WriteLine($"  {k.PadRight(width)} {(value / 1e6).ToString("N3", CultureInfo.InvariantCulture),12} "
                    + (against is null ? "" : $"{((value - b) / 1e6).ToString("+#,##0.000;-#,##0.000;0.000", CultureInfo.InvariantCulture),12} ")
                    + string.Concat(counts.Select(c => $" {c.GetValueOrDefault(key).ToString("N0", CultureInfo.InvariantCulture),22}")));
            }
            w.WriteLine();
        }
    }
}
