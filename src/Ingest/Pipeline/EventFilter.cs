using System.Globalization;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>
/// Which events a command keeps (<c>--window</c>, <c>--cpu</c>, <c>--pid</c>, <c>--comm</c>), as <c>trace-cmd report</c>
/// and <c>perf script --time/--cpu/--pid/--comm</c> select them. A window end with a unit (<c>10s</c>, <c>250ms</c>) is an
/// offset from the trace's first event; a bare number is trace time in seconds as the trace prints it.
/// </summary>
public sealed record EventFilter
{
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    public bool FromIsOffset { get; init; }
    public bool ToIsOffset { get; init; }
    public IReadOnlySet<int>? Cpus { get; init; }
    public IReadOnlySet<int>? Pids { get; init; }
    public IReadOnlySet<string>? Comms { get; init; }
    /// <summary>How the filter was asked for, for the run's notes.</summary>
    public string Description { get; init; } = "";

    public bool IsEmpty => FromNs is null && ToNs is null && Cpus is null && Pids is null && Comms is null;

    /// <summary>"FROM..TO" with either end optional; false with a message on anything else.</summary>
    public static bool TryParseWindow(string text, out long? from, out bool fromOffset, out long? to, out bool toOffset, out string? error)
    {
        from = to = null; fromOffset = toOffset = false; error = null;
        int dots = text.IndexOf("..", StringComparison.Ordinal);
        if (dots < 0) { error = $"--window '{text}': expected FROM..TO, e.g. 10s..20s (offsets from the trace start) or 8337.5..8338 (trace time)"; return false; }
        if (!TryEnd(text[..dots], out from, out fromOffset) || !TryEnd(text[(dots + 2)..], out to, out toOffset))
        {
            error = $"--window '{text}': each end is a duration with a unit (10s, 250ms, 1500us, 2m) or trace time in seconds (8337.5)";
            return false;
        }
        if (from is null && to is null) { error = $"--window '{text}': give at least one end"; return false; }
        if (from is { } f && to is { } t && fromOffset == toOffset && t < f) { error = $"--window '{text}': the end is before the start"; return false; }
        return true;
    }

    static bool TryEnd(string s, out long? ns, out bool offset)
    {
        ns = null; offset = false;
        s = s.Trim();
        if (s.Length == 0) return true;
        if (TraceDurations.TryParse(s, out long offsetNs)) { ns = offsetNs; offset = true; return true; }
        if (char.IsAsciiLetter(s[^1])) return false; // a unit that is not a duration, or NaN / Infinity
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double sec) || sec < 0 || sec > 1e9) return false;
        ns = (long)Math.Round(sec * 1e9);
        return true;
    }

    /// <summary>"0,2-3" → {0, 2, 3}; false on anything else.</summary>
    public static bool TryParseList(string text, int max, out HashSet<int> set)
    {
        set = new HashSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-');
            if (dash > 0)
            {
                if (!int.TryParse(part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int a)
                    || !int.TryParse(part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int b) || b < a || b > max || b - a > 65536) return false;
                for (int i = a; i <= b; i++) set.Add(i);
            }
            else if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v <= max) set.Add(v);
            else return false;
        }
        return set.Count > 0;
    }
}

/// <summary>Passes on only the events an <see cref="EventFilter"/> keeps. Lost-events markers stay unless the CPU
/// filter leaves their CPU out: data loss must stay visible. Allocates nothing per event.</summary>
public sealed class FilteringReader(IEventReader inner, EventFilter filter) : IEventReader
{
    long _origin = long.MinValue;
    // Per comm id: 0 unknown, 1 keep, 2 drop.
    byte[] _commVerdict = new byte[256];

    public TraceMetadata Metadata => inner.Metadata;
    public TraceStats Stats => inner.Stats;
    public CommTable Comms => inner.Comms;
    public CommTable? CallSites => inner.CallSites;
    public long BytesConsumed => inner.BytesConsumed;

    public int Read(Span<TraceEvent> dest)
    {
        while (true)
        {
            int n = inner.Read(dest);
            if (n == 0) return 0;
            int kept = 0;
            for (int i = 0; i < n; i++)
                if (Keep(in dest[i])) dest[kept++] = dest[i];
            if (kept > 0) return kept;
        }
    }

    bool Keep(in TraceEvent e)
    {
        if (_origin == long.MinValue) _origin = e.TsNs;
        if (filter.Cpus is { } cpus && !cpus.Contains(e.Cpu)) return false;
        if (filter.FromNs is { } from && e.TsNs < (filter.FromIsOffset ? _origin + from : from)) return false;
        if (filter.ToNs is { } to && e.TsNs > (filter.ToIsOffset ? _origin + to : to)) return false;
        if (e.Kind == EventKind.LostEvents) return true;
        if (filter.Pids is { } pids && !(e.Has(EventFields.Pid) && pids.Contains(e.Pid))) return false;
        if (filter.Comms is { } comms)
        {
            if (!e.Has(EventFields.Comm)) return false;
            int id = e.CommId;
            if (id >= _commVerdict.Length) Array.Resize(ref _commVerdict, Math.Max(id + 1, _commVerdict.Length * 2));
            if (_commVerdict[id] == 0) _commVerdict[id] = comms.Contains(inner.Comms[id]) ? (byte)1 : (byte)2;
            if (_commVerdict[id] == 2) return false;
        }
        return true;
    }

    public void Dispose() => inner.Dispose();
}
