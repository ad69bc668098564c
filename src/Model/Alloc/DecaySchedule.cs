namespace AsiTrace.Model.Alloc;

/// <summary>
/// When one CPU's vmstat_update runs <c>decay_pcp_high()</c> over [first, last]: the anchor points the trace shows, and
/// runs one interval apart before the first anchor, between anchors (spread evenly over the gap) and after the last —
/// or every interval from the start without anchors. Each time is computed when it is reached, so a trace of a day on
/// thousands of CPUs costs no memory for it (a materialised list was 8 bytes per CPU-second).
/// </summary>
public sealed class DecaySchedule
{
    readonly long[] _anchors;
    readonly long _first, _last, _interval;
    // Phase: -1 = the runs before the first anchor; i ≥ 0 = anchor i, then the runs after it.
    int _phase;
    long _k, _runs, _step, _base;
    bool _atAnchor;

    /// <summary>The next decay time, or <see cref="long.MaxValue"/> when there is none.</summary>
    public long Current { get; private set; } = long.MaxValue;

    public DecaySchedule(IReadOnlyList<long>? anchors, long first, long last, long interval)
    {
        if (interval <= 0) throw new ArgumentOutOfRangeException(nameof(interval));
        _anchors = anchors?.ToArray() ?? [];
        _first = first; _last = last; _interval = interval;
        if (_anchors.Length == 0)
        {
            _phase = int.MaxValue;
            _base = first; _step = interval; _k = 0;
            _runs = last > first ? (last - first) / interval : 0;
        }
        else
        {
            _phase = -1;
            long before = _anchors[0] > first ? (_anchors[0] - first) / interval : 0;
            _runs = before; _k = 0; _step = interval; _base = _anchors[0] - before * interval - interval;
        }
        Advance();
    }

    /// <summary>Moves to the next decay time.</summary>
    public void Advance()
    {
        while (true)
        {
            if (_k < _runs)
            {
                _k++;
                Current = _base + _k * _step;
                return;
            }
            if (_phase == int.MaxValue) { Current = long.MaxValue; return; }
            if (!_atAnchor)
            {
                _phase++;
                if (_phase >= _anchors.Length) { _phase = int.MaxValue; _runs = 0; Current = long.MaxValue; return; }
                _atAnchor = true;
                Current = _anchors[_phase];
                return;
            }
            // The runs after anchor _phase.
            _atAnchor = false;
            long a = _anchors[_phase];
            _base = a; _k = 0;
            if (_phase + 1 < _anchors.Length)
            {
                long gap = _anchors[_phase + 1] - a;
                _runs = Math.Max((long)Math.Round((double)gap / _interval) - 1, 0);
                _step = gap / (_runs + 1);
            }
            else
            {
                _runs = _last > a ? (_last - a) / _interval : 0;
                _step = _interval;
            }
        }
    }

    /// <summary>Moves to the first time after <paramref name="now"/>, jumping over a phase's evenly spaced runs.</summary>
    public void SkipPast(long now)
    {
        while (Current <= now)
        {
            if (!_atAnchor && _k < _runs && Current != long.MaxValue)
            {
                long k = Math.Min((now - _base) / _step, _runs);
                if (k > _k) { _k = k; Current = _base + _k * _step; }
            }
            if (Current <= now) Advance();
        }
    }

    /// <summary>Every time in order (tests, small schedules).</summary>
    public IEnumerable<long> All()
    {
        var copy = new DecaySchedule(_anchors, _first, _last, _interval);
        for (; copy.Current != long.MaxValue; copy.Advance()) yield return copy.Current;
    }
}
