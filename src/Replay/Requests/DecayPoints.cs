using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// Where the trace shows a pcp drain that no free caused: a run of <c>mm_page_pcpu_drain</c> on a CPU whose previous
/// event was not a free. On current kernels that is vmstat_update's <c>decay_pcp_high()</c> (or a
/// <c>drain_all_pages()</c>); its timing (the deferrable vmstat timer, re-armed by the shepherd) cannot be derived
/// from a clock. The replay anchors each CPU's decay schedule to them (<see cref="Schedule"/>).
/// </summary>
public static class DecayPoints
{
    /// <summary>
    /// The decay times of one CPU over [<paramref name="first"/>, <paramref name="last"/>]: the visible points, and the
    /// invisible runs (decay that drained nothing still shrinks <c>pcp->high</c>) one <paramref name="interval"/> apart
    /// in between, before the first and after the last — the vmstat work re-arms itself about once a second
    /// (<c>round_jiffies_relative(sysctl_stat_interval)</c>). Without visible points: every interval from the start.
    /// </summary>
    public static Model.Alloc.DecaySchedule Schedule(IReadOnlyList<long>? visible, long first, long last, long interval) =>
        new(visible, first, last, interval);

    public static void Note(ref EventKind[] last, int cpu, EventKind kind)
    {
        if (cpu >= last.Length) Array.Resize(ref last, cpu + 1);
        last[cpu] = kind;
    }

    /// <summary>Is this drain event the first of a run not caused by a free? Updates the CPU's last kind.</summary>
    public static bool IsDecayStart(ref EventKind[] last, int cpu, EventKind kind)
    {
        if (cpu >= last.Length) Array.Resize(ref last, cpu + 1);
        var prev = last[cpu];
        last[cpu] = kind;
        return prev is not (EventKind.MmPagePcpuDrain or EventKind.MmPageFree or EventKind.MmPageFreeBatched);
    }
}
