using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;
using AsiTrace.Replay.Results;
using AsiTrace.Replay.Classify;

namespace AsiTrace.Replay;

/// <summary>A machine's figures when a <c>--window</c> begins: what the window's own figures are measured from.</summary>
public sealed record WindowSnapshot(MetricValues Metrics, double EstimatedNs, double[] CostCounts)
{
    public static WindowSnapshot Of(Machine m)
    {
        var v = new MetricValues();
        MachineMetrics.AddTo(m, v);
        return new WindowSnapshot(v, m.EstimatedNs, m.SettledLedger().CpuTimeCounts());
    }

    /// <summary>Counts and times become the window's (end minus start); states stay as they are at the end.</summary>
    public static void Subtract(MetricValues m, MetricValues start)
    {
        foreach (var (name, v) in start)
            if (!Results.Metrics.IsState(name) && m.TryGetValue(name, out double end)) m[name] = end - v;
    }
}

/// <summary>The request stream's counts (allocations, frees, classes) over the replay, or over a <c>--window</c>: read
/// on the reader thread at the window's edges.</summary>
public sealed class RequestCounts(SensitivityClassifier classifier)
{
    public RequestReconstructor? Recon { get; set; }
    public MetricValues? Start { get; set; }
    public MetricValues? End { get; set; }

    public MetricValues Read()
    {
        var recon = Recon!;
        return new()
        {
            [Results.Metrics.Allocations] = recon.Allocations,
            [Results.Metrics.Frees] = recon.Frees,
            [Results.Metrics.FreesOfPreexistingAllocations] = recon.PreexistingFrees,
            [Results.Metrics.BatchedFreeDuplicates] = recon.BatchedDuplicates,
            [Results.Metrics.AllocationsNonsensitive] = classifier.Counts[(int)Sensitivity.Nonsensitive],
            [Results.Metrics.AllocationsSensitive] = classifier.Counts[(int)Sensitivity.Sensitive],
            [Results.Metrics.AllocationsUnmapped] = classifier.Counts[(int)Sensitivity.Unmapped],
            [Results.Metrics.AllocationsClassifiedByRule] = classifier.CountsByReason[(int)ClassReason.Rule],
            [Results.Metrics.AllocationsClassifiedHardwall] = classifier.CountsByReason[(int)ClassReason.Hardwall],
            [Results.Metrics.AllocationsClassifiedPageCache] = classifier.CountsByReason[(int)ClassReason.PageCache],
        };
    }

    /// <summary>The counts of the whole replay, or of the window (a fresh object each call: each policy owns its metrics).
    /// A window the trace never reached counts nothing.</summary>
    public MetricValues Counted(bool windowed)
    {
        var end = End ?? Read();
        var m = new MetricValues();
        foreach (var (k, v) in end) m[k] = v;
        if ((Start ?? (windowed ? end : null)) is { } s) foreach (var (k, v) in s) m[k] -= v;
        return m;
    }
}
