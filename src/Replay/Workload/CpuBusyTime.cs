using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Workload;

/// <summary>
/// The workload's CPU time as the trace's <c>sched_switch</c> events show it: per CPU, the time a task other than the
/// idle task (pid 0) and the recorder ran, from the trace start (or the CPU's first switch, whose <c>prev</c> says what ran before it) to
/// the trace end. This is the denominator of the overhead (docs/model.md §8.7). Fed every event in order.
/// </summary>
/// <param name="notWorkload">tasks whose time is not the workload's (the recorder's own threads).</param>
public sealed class CpuBusyTime(IReadOnlyCollection<int>? notWorkload = null)
{
    readonly HashSet<int> _notWorkload = notWorkload is null ? [] : [.. notWorkload];
    long[] _since = new long[8];
    bool[] _seen = new bool[8], _running = new bool[8];
    long _busy;
    public long FirstTs { get; private set; } = -1;
    public long LastTs { get; private set; }
    public long Switches { get; private set; }

    public void Add(in TraceEvent e)
    {
        if (FirstTs < 0) FirstTs = e.TsNs;
        if (e.TsNs > LastTs) LastTs = e.TsNs;
        if (e.Kind != EventKind.SchedSwitch) return;
        int c = e.Cpu;
        if (c >= _seen.Length)
        {
            int n = Math.Max(c + 1, _seen.Length * 2);
            Array.Resize(ref _since, n); Array.Resize(ref _seen, n); Array.Resize(ref _running, n);
        }
        Switches++;
        if (!_seen[c])
        {
            _seen[c] = true;
            if (IsWorkload(e.PrevPid)) _busy += e.TsNs - FirstTs;
        }
        else if (_running[c]) _busy += e.TsNs - _since[c];
        _running[c] = IsWorkload(e.NextPid);
        _since[c] = e.TsNs;
    }

    bool IsWorkload(int pid) => pid != 0 && !_notWorkload.Contains(pid);

    /// <summary>Busy nanoseconds of every CPU that switched at least once; null when the trace has no
    /// <c>sched_switch</c>.</summary>
    public double? BusyNs()
    {
        if (Switches == 0) return null;
        double busy = _busy;
        for (int c = 0; c < _seen.Length; c++) if (_seen[c] && _running[c]) busy += LastTs - _since[c];
        return busy;
    }

    /// <summary>CPUs that switched at least once.</summary>
    public int CpusSeen()
    {
        int n = 0;
        foreach (bool s in _seen) if (s) n++;
        return n;
    }
}
