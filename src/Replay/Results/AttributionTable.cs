using System.Globalization;
using System.Text.Json.Serialization;
using Parquet.Serialization.Attributes;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Machines;

namespace AsiTrace.Replay.Results;

/// <summary>A row of <c>attribution.parquet</c>: one policy's metric summed over the actors sharing one key.</summary>
public sealed class AttributionRow
{
    [ParquetRequired, JsonPropertyName("policy")] public string Policy { get; set; } = "";
    /// <summary>What the key is: comm, pid, call_site, gfp, order or migratetype.</summary>
    [ParquetRequired, JsonPropertyName("by")] public string By { get; set; } = "";
    [ParquetRequired, JsonPropertyName("key")] public string Key { get; set; } = "";
    [ParquetRequired, JsonPropertyName("metric")] public string Metric { get; set; } = "";
    [JsonPropertyName("value")] public double Value { get; set; }
    /// <summary>The value as an integer when the metric counts things; null for ns.</summary>
    [JsonPropertyName("count")] public long? Count { get; set; }
}

/// <summary>How actors' ids become names: the reader's comm and call-site tables, and the trace's gfp flag table.</summary>
public sealed class ActorNames(Func<int, string?> comm, Func<int, string?> callSite, GfpTable gfp)
{
    readonly Dictionary<ulong, string> _gfp = new();

    public string Key(string by, in Actor a)
    {
        switch (a.Kind)
        {
            case ActorKind.ReplayStart: return "(replay start)";
            case ActorKind.TraceEnd: return "(trace end)";
        }
        bool alloc = a.Kind is ActorKind.Allocation or ActorKind.UntracedAllocation or ActorKind.CompactionTarget;
        switch (by)
        {
            case "comm": return a.CommId >= 0 && comm(a.CommId) is { } c ? c : "(unknown)";
            case "pid": return a.Pid >= 0 ? a.Pid.ToString(CultureInfo.InvariantCulture) : "(unknown)";
            case "call_site": return a.CallSiteId >= 0 && callSite(a.CallSiteId) is { } s ? s : "(unknown)";
            case "order": return a.Order >= 0 ? a.Order.ToString(CultureInfo.InvariantCulture) : "(no allocation)";
            case "migratetype":
                return alloc ? MigratetypeNames.Of(a.Migratetype) : a.Kind == ActorKind.Free ? "(free)" : "(no allocation)";
            case "gfp":
                return a.Kind switch
                {
                    ActorKind.Allocation => GfpName(a.Gfp),
                    ActorKind.UntracedAllocation => "(untraced allocation)",
                    ActorKind.CompactionTarget => "(compaction target)",
                    ActorKind.Free => "(free)",
                    _ => "(" + EventKinds.Name(a.Event) + ")",
                };
            default: throw new ArgumentException($"unknown attribution key '{by}' (use {string.Join(", ", AttributionTable.Dimensions)})");
        }
    }

    string GfpName(ulong g)
    {
        if (!_gfp.TryGetValue(g, out var name)) _gfp[g] = name = gfp.FormatKernelStyle(g);
        return name;
    }
}

/// <summary>
/// Turns each policy's <see cref="Attribution"/> into rows: for every dimension, the actors grouped by their key there,
/// each metric summed. Keys with a zero metric are left out, so the rows of one (policy, by, metric) sum to the policy's
/// total (docs/attribution.md).
/// </summary>
public static class AttributionTable
{
    public static readonly string[] Dimensions = ["comm", "pid", "call_site", "gfp", "order", "migratetype"];

    public static void Add(List<AttributionRow> rows, string policy, Attribution a, ActorNames names)
    {
        int metrics = Attribution.MetricNames.Length;
        foreach (var by in Dimensions)
        {
            var sums = new Dictionary<string, double[]>(StringComparer.Ordinal);
            for (int i = 0; i < a.Actors.Count; i++)
            {
                var actor = a.Actors[i];
                string key = names.Key(by, in actor);
                if (!sums.TryGetValue(key, out var s)) sums[key] = s = new double[metrics];
                for (int k = 0; k < metrics; k++) s[k] += a.Value(i, k);
            }
            foreach (var (key, s) in sums.OrderBy(p => p.Key, StringComparer.Ordinal))
                for (int k = 0; k < metrics; k++)
                    if (s[k] != 0) rows.Add(new AttributionRow { Policy = policy, By = by, Key = key, Metric = Attribution.MetricNames[k], Value = s[k],
                            Count = Metrics.CountOf(Attribution.MetricNames[k], s[k]) });
        }
    }

    /// <summary>The <paramref name="top"/> keys of <paramref name="by"/> by <paramref name="metric"/> for
    /// <paramref name="policy"/>, with the same key's value under <paramref name="baseline"/> when given (its extra is
    /// the difference), largest first.</summary>
    public static List<(string Key, double Value, double Baseline)> Top(IReadOnlyList<AttributionRow> rows, string policy, string by, string metric,
        int top, string? baseline = null)
    {
        var mine = rows.Where(r => r.Policy == policy && r.By == by && r.Metric == metric).ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);
        var theirs = baseline is null ? new Dictionary<string, double>()
            : rows.Where(r => r.Policy == baseline && r.By == by && r.Metric == metric).ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);
        return mine.Keys.Union(theirs.Keys)
            .Select(k => (Key: k, Value: mine.GetValueOrDefault(k), Baseline: theirs.GetValueOrDefault(k)))
            .OrderByDescending(t => t.Value - t.Baseline).ThenByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal)
            .Take(top).ToList();
    }
}
