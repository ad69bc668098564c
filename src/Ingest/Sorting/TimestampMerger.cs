using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Sorting;

/// <summary>
/// Restores timestamp order across per-CPU streams with a bounded window (after Perfetto's TraceSorter):
/// events arriving in order are appended in O(1); a late event is inserted into the buffered tail. An event is
/// released once it is older than the newest buffered event by more than the window, or when the buffer is full.
/// An event older than one already released cannot be placed and is counted as a timestamp regression.
/// Memory is bounded by the capacity, never by the trace.
/// </summary>
public sealed class TimestampMerger : IEventReader
{
    readonly IEventReader _inner;
    readonly TraceEvent[] _ring;
    readonly int _mask;
    int _head, _count;
    readonly long _windowNs;
    long _lastReleased = long.MinValue;
    readonly TraceEvent[] _staging = new TraceEvent[4096];
    int _stagingPos, _stagingLen;
    bool _innerDone;
    readonly int _hRegressions, _hReordered;

    public const long DefaultWindowNs = 1_000_000_000;
    /// <summary>How far back (in events) a late event may be inserted.</summary>
    public const int MaxDisplacement = 4096;
    /// <summary>
    /// A full ring releases an eighth and keeps the rest, so any capacity ≥ 8/7 × <see cref="MaxDisplacement"/> places
    /// every event that can be placed; more only costs cache. 16 Ki events (1.7 MB) instead of 256 Ki (27 MB) keeps the
    /// ring near the core: the decoder writes each event into it and the reader copies it out.
    /// </summary>
    public const int DefaultCapacity = 1 << 14;

    public TimestampMerger(IEventReader inner, long windowNs = DefaultWindowNs, int capacity = DefaultCapacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(capacity), "power of two ≥ 2");
        _inner = inner;
        _ring = new TraceEvent[capacity];
        _mask = capacity - 1;
        _windowNs = windowNs;
        _hRegressions = inner.Stats.Register("timestamp_regressions", Severity.Error);
        _hReordered = inner.Stats.Register("events_reordered", Severity.Info);
    }

    public TraceMetadata Metadata => _inner.Metadata;
    public TraceStats Stats => _inner.Stats;
    public CommTable Comms => _inner.Comms;
    public CommTable? CallSites => _inner.CallSites;
    public long BytesConsumed => _inner.BytesConsumed;

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            if (_count > 0 && (_count == _ring.Length || _innerDone || NewestTs() - _ring[_head].TsNs > _windowNs))
            {
                // Release a run at once: everything older than the window (or all of it at the end / when full).
                int run = 0;
                int limit = Math.Min(dest.Length - n, Math.Min(_count, _ring.Length - _head));
                bool all = _count == _ring.Length || _innerDone;
                long cutoff = NewestTs() - _windowNs;
                while (run < limit && (all || _ring[_head + run].TsNs < cutoff)) run++;
                if (all && _count == _ring.Length && !_innerDone) run = Math.Min(run, Math.Max(1, _ring.Length / 8));
                _ring.AsSpan(_head, run).CopyTo(dest.Slice(n, run));
                _lastReleased = _ring[_head + run - 1].TsNs;
                n += run;
                _head = (_head + run) & _mask;
                _count -= run;
                continue;
            }
            if (_innerDone) break;
            FillRing();
        }
        return n;
    }

    long NewestTs() => _ring[(_head + _count - 1) & _mask].TsNs;

    /// <summary>
    /// Lets the inner reader decode straight into the ring's free run (no staging copy), then puts each new event in
    /// order: in-order events stay where they landed; a late one is moved back to its place.
    /// </summary>
    void FillRing()
    {
        int tail = (_head + _count) & _mask;
        int contiguous = tail >= _head && !(_count > 0 && tail == _head) ? _ring.Length - tail : _head - tail;
        contiguous = Math.Min(contiguous, _ring.Length - _count);
        if (contiguous < 64)
        {
            // Near the wrap point: go through the staging buffer for this one batch.
            if (_stagingPos == _stagingLen)
            {
                _stagingLen = _inner.Read(_staging.AsSpan(0, Math.Max(2, Math.Min(_staging.Length, _ring.Length - _count))));
                _stagingPos = 0;
                if (_stagingLen == 0) { _innerDone = true; return; }
            }
            while (_stagingPos < _stagingLen && _count < _ring.Length)
            {
                _ring[(_head + _count) & _mask] = _staging[_stagingPos++];
                Place();
            }
            return;
        }
        if (_stagingPos < _stagingLen)
        {
            while (_stagingPos < _stagingLen && _count < _ring.Length)
            {
                _ring[(_head + _count) & _mask] = _staging[_stagingPos++];
                Place();
            }
            return;
        }
        int got = _inner.Read(_ring.AsSpan(tail, Math.Min(contiguous, 8192)));
        if (got == 0) { _innerDone = true; return; }
        for (int k = 0; k < got; k++) Place();
    }

    /// <summary>Accepts the event just written at logical position <c>_count</c>, moving it back if it is late.</summary>
    void Place()
    {
        int pos = (_head + _count) & _mask;
        long ts = _ring[pos].TsNs;
        if (_count == 0 || ts >= _ring[(pos - 1) & _mask].TsNs)
        {
            if (ts < _lastReleased) Stats.Add(_hRegressions);
            _count++;
            return;
        }
        // Find the insertion point walking back from the tail: late events on real traces are a few positions behind
        // (trace_pipe's cross-CPU steps). Further back than MaxDisplacement, or older than what was already released,
        // it cannot be placed in order: it goes as far back as allowed and is counted as a timestamp regression.
        // Both bounds keep the cost per event bounded on adversarial input.
        int i = _count;
        int floor = Math.Max(0, _count - MaxDisplacement);
        while (i > floor && _ring[(_head + i - 1) & _mask].TsNs > ts) i--;
        if ((i == floor && floor > 0) || ts < _lastReleased) Stats.Add(_hRegressions);
        else Stats.Add(_hReordered);
        var e = _ring[pos];
        for (int j = _count; j > i; j--) _ring[(_head + j) & _mask] = _ring[(_head + j - 1) & _mask];
        _ring[(_head + i) & _mask] = e;
        _count++;
    }

    public void Dispose() => _inner.Dispose();
}
