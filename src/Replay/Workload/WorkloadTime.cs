using AsiTrace.Ingest.Snapshot;

namespace AsiTrace.Replay.Workload;

/// <summary>The workload's measured CPU time, and how it was measured.</summary>
/// <param name="CpuNs">CPU time of the workload on every CPU during the trace, ns.</param>
/// <param name="Source">"sched_switch", "proc_stat" or "trace_span".</param>
/// <param name="Note">what the figure includes and leaves out, for the run's assumptions.</param>
public sealed record WorkloadTime(double CpuNs, string Source, string Note)
{
    /// <summary>
    /// The best measure the inputs allow: the command run untraced (<c>record --baseline</c>); the trace's own context switches; else the busy time <c>/proc/stat</c> counted
    /// between the start and end snapshots (a little more than the trace: the snapshots bracket it); else the trace's
    /// span on every CPU (an upper bound of the CPU time, so the overhead is a lower bound).
    /// </summary>
    public static WorkloadTime Measure(CpuBusyTime busy, MachineSnapshot? start, MachineSnapshot? end, int cpus, double? baselineNs = null)
    {
        const string Tracing = "it includes the slowdown tracing itself caused (not corrected: record with --baseline)";
        double? traced = busy.BusyNs();
        if (baselineNs is > 0)
            return new(baselineNs.Value, "baseline", $"workload CPU time {baselineNs.Value / 1e6:N1} ms: the command run once untraced before the recording (record --baseline; user and system time of its process tree), free of tracing's slowdown"
                + (traced is > 0 ? $"; traced, the same work took {traced.Value / 1e6:N1} ms of CPU (sched_switch)" : ""));
        if (traced is double ns && ns > 0)
            return new(ns, "sched_switch", $"workload CPU time {ns / 1e6:N1} ms: non-idle time of the {busy.CpusSeen()} CPUs that switched tasks, from sched_switch; {Tracing}");
        if (start?.StatBusyTicks is long a && end?.StatBusyTicks is long b && b > a)
        {
            double statNs = (b - a) * (1e9 / MachineSnapshot.UserHz);
            return new(statNs, "proc_stat", $"workload CPU time {statNs / 1e6:N1} ms: busy time of all CPUs in /proc/stat between the start and end snapshots (no sched_switch in the trace; the snapshots bracket the trace, so slightly more than it); {Tracing}");
        }
        double span = (double)Math.Max(busy.LastTs - busy.FirstTs, 0) * Math.Max(cpus, 1);
        return new(span, "trace_span", $"workload CPU time {span / 1e6:N1} ms: the trace's span on all {Math.Max(cpus, 1)} CPUs (no sched_switch and no /proc/stat snapshots: an upper bound, so overheads are lower bounds)");
    }
}
