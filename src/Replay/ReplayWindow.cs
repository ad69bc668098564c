namespace AsiTrace.Replay;

/// <summary>
/// <c>replay --window FROM..TO</c>: the part of the trace whose costs are counted. The model still replays every event
/// from the trace start, so it enters the window in the state the kernel was in (warm-up), and stops after the window
/// end. An end with a unit is an offset from the trace's first event; a bare number is trace time, as the filters take
/// them (<see cref="Ingest.Pipeline.EventFilter"/>).
/// </summary>
public sealed class ReplayWindow(long? from, bool fromIsOffset, long? to, bool toIsOffset, string text)
{
    public string Text { get; } = text;
    /// <summary>The first and last counted trace times (inclusive), once <see cref="Resolve"/> knows the trace start.</summary>
    public long FromNs { get; private set; } = long.MinValue;
    public long ToNs { get; private set; } = long.MaxValue;
    public bool Resolved { get; private set; }

    public static ReplayWindow From(Ingest.Pipeline.EventFilter f, string text) => new(f.FromNs, f.FromIsOffset, f.ToNs, f.ToIsOffset, text);

    /// <summary>Fixes the offsets against the trace's first event time.</summary>
    public void Resolve(long firstTs)
    {
        if (Resolved) return;
        Resolved = true;
        if (from is { } f) FromNs = fromIsOffset ? Sat(firstTs, f) : f;
        if (to is { } t) ToNs = toIsOffset ? Sat(firstTs, t) : t;
    }

    static long Sat(long a, long b) => b > long.MaxValue - a ? long.MaxValue : a + b;

    public bool Contains(long ts) => ts >= FromNs && ts <= ToNs;
}
