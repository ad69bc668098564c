using System.Globalization;
using System.Text.Json;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Parquet;

/// <summary>Turns trace metadata and stats into Parquet key-value metadata and back.</summary>
public static class MetadataCodec
{
    public static Dictionary<string, string> Encode(TraceMetadata meta, TraceStats stats, long events)
    {
        var d = new Dictionary<string, string>
        {
            [EventsSchema.KeySourceFormat] = meta.SourceFormat,
            [EventsSchema.KeyCpus] = meta.CpuCount.ToString(CultureInfo.InvariantCulture),
            [EventsSchema.KeyTimestampsNs] = meta.TimestampsAreNs ? "true" : "false",
            [EventsSchema.KeyVersion] = ToolVersion,
            [EventsSchema.KeyEvents] = events.ToString(CultureInfo.InvariantCulture),
            [EventsSchema.KeyCounters] = CountersJson(stats),
            [EventsSchema.KeyOtherEvents] = JsonSerializer.Serialize(stats.OtherEvents.Items.ToDictionary(x => x.Name, x => x.Count)),
            [EventsSchema.KeyInputs] = JsonSerializer.Serialize(meta.Inputs),
        };
        if (meta.KernelRelease is not null) d[EventsSchema.KeyKernelRelease] = meta.KernelRelease;
        if (meta.Clock is not null) d[EventsSchema.KeyClock] = meta.Clock;
        if (meta.GfpTable is not null) d[EventsSchema.KeyGfpTable] = meta.GfpTable;
        if (meta.Notes.Count > 0) d[EventsSchema.KeyNotes] = JsonSerializer.Serialize(meta.Notes);
        return d;
    }

    public static string CountersJson(TraceStats stats)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var (name, sev, value) in stats.Counters)
            {
                w.WriteStartObject(name);
                w.WriteString("severity", TraceStats.SeverityName(sev));
                w.WriteNumber("value", value);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    public static void Decode(IReadOnlyDictionary<string, string> d, TraceMetadata meta, TraceStats stats)
    {
        if (d.TryGetValue(EventsSchema.KeySourceFormat, out var f)) meta.SourceFormat = f;
        if (d.TryGetValue(EventsSchema.KeyKernelRelease, out var k)) meta.KernelRelease = k;
        if (d.TryGetValue(EventsSchema.KeyClock, out var c)) meta.Clock = c;
        if (d.TryGetValue(EventsSchema.KeyGfpTable, out var g)) meta.GfpTable = g;
        if (d.TryGetValue(EventsSchema.KeyCpus, out var cp) && int.TryParse(cp, CultureInfo.InvariantCulture, out int cpus)) meta.CpuCount = cpus;
        if (d.TryGetValue(EventsSchema.KeyTimestampsNs, out var ns)) meta.TimestampsAreNs = ns == "true";
        Json(d, EventsSchema.KeyCounters, JsonValueKind.Object, root =>
        {
            foreach (var p in root.EnumerateObject())
                stats.Add(p.Name, TraceStats.ParseSeverity(p.Value.GetProperty("severity").GetString() ?? "info"), p.Value.GetProperty("value").GetInt64());
        });
        Json(d, EventsSchema.KeyOtherEvents, JsonValueKind.Object, root =>
        {
            foreach (var p in root.EnumerateObject()) stats.OtherEvents.Add(p.Name, p.Value.GetInt64());
        });
        Json(d, EventsSchema.KeyInputs, JsonValueKind.Array, root =>
        {
            foreach (var p in root.EnumerateArray()) meta.Inputs.Add(p.GetString() ?? "");
        });
        Json(d, EventsSchema.KeyNotes, JsonValueKind.Array, root =>
        {
            foreach (var p in root.EnumerateArray()) meta.Notes.Add(p.GetString() ?? "");
        });
    }

    /// <summary>Metadata that is not what this tool writes: names the key and what was wrong.</summary>
    public sealed class InvalidMetadataException(string message) : Exception(message);

    static void Json(IReadOnlyDictionary<string, string> d, string key, JsonValueKind kind, Action<JsonElement> read)
    {
        if (!d.TryGetValue(key, out var json)) return;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != kind) throw new InvalidMetadataException($"key '{key}': a JSON {kind.ToString().ToLowerInvariant()} was expected, not {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            read(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            throw new InvalidMetadataException($"key '{key}' is not what asitrace writes: {e.Message}");
        }
    }

    public static string ToolVersion => typeof(MetadataCodec).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
