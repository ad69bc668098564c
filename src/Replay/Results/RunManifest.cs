using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AsiTrace.Model.Tlb;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Policies;

namespace AsiTrace.Replay.Results;

/// <summary>
/// <c>run.json</c>: what a replay read (every input file with its size and SHA-256, so <c>compare</c> can tell whether
/// two results come from the same trace), the options, knobs and rules it ran with, every cost constant with its unit,
/// source and whether it is an estimate, and the result object of <c>replay --json</c>.
/// </summary>
public static class RunManifest
{
    /// <summary>The files the replay read: the trace (for a directory, the one file the opener picks), the snapshots'
    /// files and a recording's costs.json/record.json; not the directory's other files.</summary>
    static IEnumerable<string> InputFiles(string input, string? snapDir)
    {
        yield return Directory.Exists(input) ? Ingest.Pipeline.TraceOpener.FindTraceInDirectory(input) : input;
        if (snapDir is null || !Directory.Exists(snapDir)) yield break;
        foreach (var name in new[] { "costs.json", "record.json" })
            if (File.Exists(Path.Combine(snapDir, name))) yield return Path.Combine(snapDir, name);
        foreach (var sub in new[] { "snapshot-start", "snapshot-end" })
        {
            string d = Path.Combine(snapDir, sub);
            if (Directory.Exists(d)) foreach (var f in Directory.GetFiles(d).Order(StringComparer.Ordinal)) yield return f;
        }
    }

    public static JsonObject Build(string input, string? snapDir, string[] policies, string cpu, CostModel costs, PolicyKnobs knobs,
        IReadOnlyList<ClassifyRule> rules, long intervalNs, ReplayResult r, string placementName, string? toolVersion)
    {
        var inputs = new JsonArray();
        foreach (var f in InputFiles(input, snapDir))
        {
            using var s = File.OpenRead(f);
            inputs.Add(new JsonObject { ["path"] = Path.GetFullPath(f), ["bytes"] = s.Length, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(s)) });
        }
        var c = new JsonObject();
        foreach (var p in typeof(CostModel).GetProperties())
        {
            var v = p.GetValue(costs);
            if (v is Cost cost)
                c[p.Name] = new JsonObject
                {
                    ["value"] = cost.Value, ["unit"] = cost.Unit, ["source"] = cost.Source, ["estimate"] = cost.Estimate,
                    ["range"] = new JsonArray(cost.Low, cost.High),
                };
            else if (v is double d) c[p.Name] = d;
            else if (v is string str) c[p.Name] = str;
        }
        return new JsonObject
        {
            ["tool"] = "asitrace",
            ["version"] = toolVersion,
            ["inputs"] = inputs,
            ["snapshot"] = snapDir is null ? null : Path.GetFullPath(snapDir),
            ["options"] = new JsonObject
            {
                ["policies"] = new JsonArray(policies.Select(p => (JsonNode?)p).ToArray()), ["placement"] = placementName, ["cpu_model"] = cpu,
                ["interval_ns"] = intervalNs,
                ["classify"] = new JsonArray(rules.Select(x => (JsonNode?)x.Text).ToArray()),
                ["knobs"] = new JsonObject(typeof(PolicyKnobs).GetProperties().Select(p => KeyValuePair.Create(p.Name, KnobValue(p.GetValue(knobs))))),
            },
            ["costs"] = c,
            ["result"] = ResultsWriter.ToJson(r),
        };
    }

    /// <summary>A knob as JSON of its own type: true/false, a number, or the name of an enum value.</summary>
    static JsonNode? KnobValue(object? v) => v switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        _ => JsonValue.Create(v.ToString()),
    };
}
