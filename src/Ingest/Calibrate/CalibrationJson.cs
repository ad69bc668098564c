using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AsiTrace.Ingest.Calibrate;

/// <summary>
/// The costs JSON <c>replay --costs</c> reads, from a calibration: each measured constant as
/// <c>{"value", "unit", "source", "low", "high", …provenance}</c> (the range is the spread of the runs), the raw
/// measurements under <c>_measurements</c>, and what could not be measured, and why, under <c>_unavailable</c>.
/// </summary>
public static class CalibrationJson
{
    /// <summary>Which measurement gives which cost constant; FileIoBase is a pread's cost apart from its copy.</summary>
    static readonly string[] Direct = ["Zero4K", "Copy4K", "IpiInitiatorBase", "IpiInitiatorPerTarget", "Ibpb"];

    public static string Write(IReadOnlyList<Measurement> ms, string cpuModel, string kernel, DateTime when)
    {
        var root = new JsonObject();
        var byName = ms.ToDictionary(m => m.Name);
        var unavailable = new JsonObject();
        JsonObject Constant(double value, double low, double high, string method) => new()
        {
            ["value"] = Round(value), ["unit"] = "ns", ["low"] = Round(Math.Max(0, low)), ["high"] = Round(Math.Max(0, high)),
            ["source"] = $"measured on this host ({cpuModel}, Linux {kernel}, {when:yyyy-MM-dd}): {method}; median of the runs, range their spread",
            ["measured"] = true, ["cpu_model"] = cpuModel, ["kernel"] = kernel, ["date"] = when.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["method"] = method,
        };
        foreach (var name in Direct)
        {
            if (!byName.TryGetValue(name, out var m)) continue;
            if (!m.Available) { unavailable[name] = m.Unavailable; continue; }
            if (m.Median <= 0) { unavailable[name] = $"measured {m.Median:0.#} ns, not a positive cost (below this host's resolution)"; continue; }
            root[name] = Constant(m.Median, m.Min, m.Max, m.Method);
        }
        if (byName.TryGetValue("PreadTmpfs4K", out var pr) && byName.TryGetValue("Copy4K", out var cp))
        {
            if (!pr.Available) unavailable["FileIoBase"] = pr.Unavailable;
            else if (pr.Median - cp.Median <= 0) unavailable["FileIoBase"] = "a pread cost no more than its copy here";
            else root["FileIoBase"] = Constant(pr.Median - cp.Median, pr.Min - cp.Max, pr.Max - cp.Min, $"{pr.Method}, minus Copy4K");
        }
        root["_note"] = "ASI-specific constants (AsiExit, AsiEnter, RsbStuff, L1dFlush, VERW) cannot be measured from user space and stay the preset's estimates";
        root["_measurements"] = new JsonObject(ms.Where(m => m.Available).Select(m => KeyValuePair.Create(m.Name, (JsonNode?)new JsonObject
        {
            ["median_ns"] = Round(m.Median), ["min_ns"] = Round(m.Min), ["max_ns"] = Round(m.Max), ["runs"] = m.Runs, ["method"] = m.Method,
        })));
        foreach (var m in ms.Where(m => !m.Available && !unavailable.ContainsKey(m.Name))) unavailable[m.Name] = m.Unavailable;
        root["_unavailable"] = unavailable;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    static double Round(double v) => Math.Round(v, 1);
}
