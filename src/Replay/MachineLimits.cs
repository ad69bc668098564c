using AsiTrace.Ingest.Input;

namespace AsiTrace.Replay;

/// <summary>
/// The limits a replay checks before it sizes anything (docs/model.md §11): the model's memory follows the simulated
/// machine (pages, CPUs) and the outputs asked for, never a field of the input. A value past a limit is invalid input
/// (exit 3) naming the field, except the series interval, which is widened with a note.
/// </summary>
public static class MachineLimits
{
    /// <summary>The largest NR_CPUS x86-64 builds (arch/x86/Kconfig, NR_CPUS_RANGE_END with MAXSMP).</summary>
    public const int MaxCpus = 8192;

    /// <summary>x86-64 physical addresses have at most 52 bits (MAXPHYADDR), so no page frame number reaches 2^40.</summary>
    public const long MaxPfn = 1L << 40;

    /// <summary>Without a snapshot the machine is sized from the highest pfn the trace shows; above this many bytes of
    /// RAM the replay asks for a snapshot or an explicit <c>--max-ram</c>. A choice, not a measurement: 64 GiB replays in
    /// about 2 GB per policy (docs/model.md §11), and one corrupt pfn must not cost more.</summary>
    public const long DefaultMaxRamWithoutSnapshot = 64L << 30;

    /// <summary>Most samples per policy in the time series: past it the interval widens (a day of 1 s samples on six
    /// policies and ~40 metrics is ~20 M points).</summary>
    public const long MaxSeriesSamples = 10_000;

    /// <summary>The CPU count of the simulated machine, checked: no more than <see cref="MaxCpus"/>, whichever field
    /// gave it.</summary>
    public static void CheckCpus(string input, int headerCpus, int maxEventCpu, int? snapshotCpus)
    {
        if (headerCpus > MaxCpus)
            throw new InvalidTraceException(input, "header CPU count", $"{headerCpus} CPUs is more than any x86-64 kernel supports (NR_CPUS ≤ {MaxCpus})");
        if (maxEventCpu >= MaxCpus)
            throw new InvalidTraceException(input, $"an event on CPU {maxEventCpu}", $"CPU numbers stop below {MaxCpus} (NR_CPUS) on x86-64");
        if (snapshotCpus > MaxCpus)
            throw new InvalidTraceException(input, "snapshot nproc", $"{snapshotCpus} CPUs is more than any x86-64 kernel supports (NR_CPUS ≤ {MaxCpus})");
    }

    /// <summary>Without a snapshot: the highest pfn must lie within <paramref name="maxRamBytes"/>.</summary>
    public static void CheckPfnWithoutSnapshot(string input, long maxPfn, long maxRamBytes)
    {
        if (maxPfn < 0) return;
        if (maxPfn >= MaxPfn)
            throw new InvalidTraceException(input, $"pfn 0x{maxPfn:x}", "is past the largest physical address x86-64 has (52 bits)");
        long pages = maxRamBytes >> 12;
        if (maxPfn >= pages)
            throw new InvalidTraceException(input, $"pfn 0x{maxPfn:x}",
                $"implies a machine of {FormatBytes((maxPfn + 1) << 12)}; without a snapshot asitrace replays machines up to {FormatBytes(maxRamBytes)} " +
                "(record with asitrace record for a snapshot, or raise --max-ram)");
    }

    /// <summary>The series points a chart needs to show a trend, whatever the trace's length.</summary>
    public const int MinSeriesSamples = 50;

    /// <summary><c>--interval auto</c>: the largest round interval (1, 2 or 5 × 10^k ns) that still gives at least
    /// <see cref="MinSeriesSamples"/> points over the trace; 1 s for a trace too short to have a span.</summary>
    public static long AutoSeriesInterval(long firstTs, long lastTs)
    {
        if (lastTs <= firstTs) return 1_000_000_000;
        double target = ((double)lastTs - firstTs) / MinSeriesSamples;
        long best = 1;
        for (long decade = 1; decade <= long.MaxValue / 10 && decade <= target; decade *= 10)
            foreach (long m in new long[] { 1, 2, 5 })
                if (decade * m <= target) best = decade * m;
        return best;
    }

    /// <summary>The series interval, widened when the trace span would need more than <see cref="MaxSeriesSamples"/>.</summary>
    public static long SeriesInterval(long intervalNs, long firstTs, long lastTs, List<string> notes)
    {
        if (intervalNs <= 0 || lastTs <= firstTs) return intervalNs;
        double span = (double)lastTs - firstTs;
        if (span / intervalNs <= MaxSeriesSamples) return intervalNs;
        long widened = (long)Math.Min(Math.Ceiling(span / MaxSeriesSamples), long.MaxValue / 2);
        notes.Add($"time series: the trace spans {span / 1e9:0.###} s, so the {intervalNs / 1e9:0.###} s interval would give more than {MaxSeriesSamples:N0} samples; sampled every {widened / 1e9:0.###} s instead");
        return widened;
    }

    public static string FormatBytes(long bytes) =>
        bytes >= 1L << 40 ? $"{bytes / (double)(1L << 40):0.#} TiB" : bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.#} GiB" : $"{bytes / (double)(1L << 20):0.#} MiB";
}
