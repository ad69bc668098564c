using System.Text.Json;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary>The <c>stats --json</c> object (README, Commands) and its human rendering.</summary>
static class SummaryJson
{
    public static void Write(Utf8JsonWriter w, EventSummary s, IEventReader reader)
    {
        var byKind = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int k = 1; k < EventKinds.Count; k++)
            if ((EventKind)k != EventKind.LostEvents && s.ByKind[k] > 0) byKind[EventKinds.Name((EventKind)k)] = s.ByKind[k];
        foreach (var (name, n) in reader.Stats.OtherEvents.Items) byKind[name] = byKind.GetValueOrDefault(name) + n;
        long events = 0;
        foreach (var v in byKind.Values) events += v;
        w.WriteNumber("events", events);
        w.WriteNumber("decoded", s.Events);
        w.WriteStartObject("by_kind");
        foreach (var (k, v) in byKind) w.WriteNumber(k, v);
        w.WriteEndObject();
        w.WriteNumber("lost_events", s.LostEvents);
        w.WriteNumber("lost_markers_without_count", s.LostMarkersUnknownCount);
        w.WriteNumber("cpus", Math.Max(reader.Metadata.CpuCount, s.CpusSeen));
        if (s.Events > 0) { w.WriteNumber("first_ts_ns", s.FirstTs); w.WriteNumber("last_ts_ns", s.LastTs); }
        else { w.WriteNull("first_ts_ns"); w.WriteNull("last_ts_ns"); }
        w.WriteStartObject("skipped");
        foreach (var (name, sev, value) in reader.Stats.Counters)
            if (sev != Severity.Info && name != "lost_events" && name != "lost_event_markers") w.WriteNumber(name, value);
        w.WriteEndObject();
        w.WriteString("format", reader.Metadata.SourceFormat);
        if (reader.Metadata.KernelRelease is { } kr) w.WriteString("kernel_release", kr); else w.WriteNull("kernel_release");
        if (reader.Metadata.Clock is { } c) w.WriteString("clock", c); else w.WriteNull("clock");
        if (reader.Metadata.GfpTable is { } g) w.WriteString("gfp_table", g);
    }

    public static void WriteHuman(TextWriter o, EventSummary s, IEventReader reader)
    {
        var m = reader.Metadata;
        o.WriteLine($"format: {m.SourceFormat}   kernel: {m.KernelRelease ?? "unknown"}   clock: {m.Clock ?? "unknown"}   cpus: {Math.Max(m.CpuCount, s.CpusSeen)}");
        if (m.GfpTable is not null) o.WriteLine($"gfp table: {m.GfpTable}");
        if (s.Events > 0)
            o.WriteLine($"time span: {s.FirstTs} .. {s.LastTs} ns ({(s.LastTs - s.FirstTs) / 1_000_000} ms)");
        for (int k = 1; k < EventKinds.Count; k++)
            if ((EventKind)k != EventKind.LostEvents && s.ByKind[k] > 0) o.WriteLine($"  {EventKinds.Name((EventKind)k),-36} {s.ByKind[k],12:N0}");
        foreach (var (name, n) in reader.Stats.OtherEvents.Items) o.WriteLine($"  {name,-36} {n,12:N0}  (not in the schema: counted only)");
        if (s.LostEvents > 0 || s.LostMarkersUnknownCount > 0)
            o.WriteLine($"lost events: {s.LostEvents:N0}{(s.LostMarkersUnknownCount > 0 ? $" (+{s.LostMarkersUnknownCount} markers without a count)" : "")}");
        foreach (var (name, sev, value) in reader.Stats.Counters)
            if (sev != Severity.Info) o.WriteLine($"  [{TraceStats.SeverityName(sev)}] {name}: {value:N0}");
        foreach (var d in reader.Stats.Diagnostics) o.WriteLine($"  {d}");
        foreach (var n in m.Notes) o.WriteLine($"note: {n}");
    }

    /// <summary>Prints the summary object (plus <paramref name="extra"/> members) as one JSON object on stdout.</summary>
    public static void PrintToStdout(EventSummary s, IEventReader reader, Action<Utf8JsonWriter>? extra = null)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            Write(w, s, reader);
            extra?.Invoke(w);
            w.WriteEndObject();
        }
        stdout.Write("\n"u8);
    }

    public static string Throughput(long events, long bytes, TimeSpan elapsed)
    {
        double s = Math.Max(elapsed.TotalSeconds, 1e-6);
        return $"{events:N0} events, {bytes / 1e6:F2} MB, {events / s / 1e6:F2} M events/s, {bytes / 1e6 / s:F1} MB/s";
    }
}
