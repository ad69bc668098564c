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
    public const int DefaultCapacity = 1 << 18;
    /// <summary>How far back (in events) a late event may be inserted.</summary>
    public const int MaxDisplacement = 4096;

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
    public long BytesConsumed => _inner.BytesConsumed;

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            if (_count > 0 && (_count == _ring.Length || _innerDone || NewestTs() - _ring[_head].TsNs > _windowNs))
            {
                ref var e = ref _ring[_head];
                _lastReleased = e.TsNs;
                dest[n++] = e;
                _head = (_head + 1) & _mask;
                _count--;
                continue;
            }
            if (_innerDone) break;
            if (_stagingPos == _stagingLen)
            {
                _stagingLen = _inner.Read(_staging);
                _stagingPos = 0;
                if (_stagingLen == 0) { _innerDone = true; continue; }
            }
            Insert(in _staging[_stagingPos++]);
        }
        return n;
    }

    long NewestTs() => _ring[(_head + _count - 1) & _mask].TsNs;

    void Insert(in TraceEvent e)
    {
        if (_count == 0 || e.TsNs >= NewestTs())
        {
            if (e.TsNs < _lastReleased) Stats.Add(_hRegressions);
            _ring[(_head + _count) & _mask] = e;
            _count++;
            return;
        }
        if (e.TsNs < _lastReleased)
        {
            // Too late to place: emit it next, out of order, and count it.
            Stats.Add(_hRegressions);
            _head = (_head - 1) & _mask;
            _ring[_head] = e;
            _count++;
            return;
        }
        // Find the insertion point walking back from the tail: late events on real traces are a few positions behind
        // (trace_pipe's cross-CPU steps). One further back than MaxDisplacement is treated as a regression, which keeps
        // the cost per event bounded on adversarial input.
        int i = _count;
        int floor = Math.Max(0, _count - MaxDisplacement);
        while (i > floor && _ring[(_head + i - 1) & _mask].TsNs > e.TsNs) i--;
        if (i == floor && floor > 0)
        {
            Stats.Add(_hRegressions);
            _head = (_head - 1) & _mask;
            _ring[_head] = e;
            _count++;
            return;
        }
        Stats.Add(_hReordered);
        for (int j = _count; j > i; j--) _ring[(_head + j) & _mask] = _ring[(_head + j - 1) & _mask];
        _ring[(_head + i) & _mask] = e;
        _count++;
    }

    public void Dispose() => _inner.Dispose();
}
