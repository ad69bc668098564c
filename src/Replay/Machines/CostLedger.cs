using AsiTrace.Model.Tlb;

namespace AsiTrace.Replay.Machines;

/// <summary>What a nanosecond of modelled CPU time was spent on. Each cause is one row of the cost breakdown
/// (docs/costs.md lists the constants behind each).</summary>
public enum CostCause
{
    /// <summary>Clearing pages (<c>__GFP_ZERO</c>, pageblocks that become nonsensitive).</summary>
    Zeroing,
    /// <summary>Copies between the page cache and user memory, and copy-on-write copies.</summary>
    Copy,
    /// <summary>The flushes and IPIs the trace itself shows (<c>tlb_flush</c> events).</summary>
    TracedTlb,
    /// <summary><c>asi_exit</c> + <c>asi_enter</c> with the transition flushes.</summary>
    AsiTransitions,
    /// <summary>Pages mapped through the mermap or the ephmap, and their flushes.</summary>
    Mermap,
    /// <summary>Shootdowns the model issued, on every CPU (initiator and targets).</summary>
    ModelFlushes,
    /// <summary>The flush initiator's wait alone: latency, not CPU time (the targets' share is in <see cref="ModelFlushes"/>).</summary>
    InitiatorFlushes,
    /// <summary>Page-table pages allocated by direct-map and restricted-map splits.</summary>
    PageTablePages,
    /// <summary>Page walks after TLB misses.</summary>
    TlbMisses,
}

/// <summary>
/// The machine's cost ledger: per <see cref="CostCause"/>, how many of each <see cref="CostConstant"/> the replay spent
/// (pages zeroed, exits, IPIs, walks, …). Every total and breakdown is these counts times the constants, so the same
/// ledger also gives any total at other values of the constants — the ranges of docs/costs.md — without replaying.
/// Some causes are charged as the work happens; the counter-derived ones (model flushes, page-table pages, walks) are
/// settled from their counters whenever the ledger is read.
/// </summary>
public sealed class CostLedger(CostModel costs)
{
    public static readonly int Causes = Enum.GetValues<CostCause>().Length;
    readonly double[,] _count = new double[Causes, CostModel.ConstantCount];
    readonly double[] _ns = costs.NsVector();

    /// <summary>Who each charge goes to (null: nobody asks).</summary>
    public Attribution? Attribution { get; set; }

    /// <summary>Adds <paramref name="count"/> of <paramref name="constant"/> to <paramref name="cause"/>.</summary>
    public void Charge(CostCause cause, CostConstant constant, double count)
    {
        _count[(int)cause, (int)constant] += count;
        Attribution?.AddNs(cause, count * _ns[(int)constant]);
    }

    /// <summary>Replaces a counter-derived cause's counts.</summary>
    public void Settle(CostCause cause, IEnumerable<(CostConstant Constant, double Count)> counts)
    {
        for (int k = 0; k < CostModel.ConstantCount; k++) _count[(int)cause, k] = 0;
        foreach (var (k, n) in counts) _count[(int)cause, (int)k] += n;
    }

    /// <summary>Nanoseconds of <paramref name="cause"/> at the constants' values.</summary>
    public double this[CostCause cause] => Cost(cause, _ns);

    double Cost(CostCause cause, double[] ns)
    {
        double total = 0;
        for (int k = 0; k < ns.Length; k++) total += _count[(int)cause, k] * ns[k];
        return total;
    }

    /// <summary>CPU time on all CPUs: every cause except the initiators' wait (already counted in the model flushes).</summary>
    public double CpuTimeNs => CpuTimeAt(_ns);

    /// <summary>Time on the CPUs that issued the work: the initiators' wait instead of every CPU's flush work (what a
    /// latency such as Firecracker's populate time is made of).</summary>
    public double LatencyNs => Sum(except: CostCause.ModelFlushes, _ns);

    /// <summary>CPU time with the constants at <paramref name="ns"/> (ns each, indexed by <see cref="CostConstant"/>).</summary>
    public double CpuTimeAt(double[] ns) => Sum(except: CostCause.InitiatorFlushes, ns);

    /// <summary>Latency with the constants at <paramref name="ns"/>.</summary>
    public double LatencyAt(double[] ns) => Sum(except: CostCause.ModelFlushes, ns);

    /// <summary>How many of each constant the CPU time holds: its derivative by each constant's ns.</summary>
    public double[] CpuTimeCounts()
    {
        var c = new double[CostModel.ConstantCount];
        for (int cause = 0; cause < Causes; cause++)
            if (cause != (int)CostCause.InitiatorFlushes)
                for (int k = 0; k < c.Length; k++) c[k] += _count[cause, k];
        return c;
    }

    double Sum(CostCause except, double[] ns)
    {
        double total = 0;
        for (int i = 0; i < Causes; i++) if (i != (int)except) total += Cost((CostCause)i, ns);
        return total;
    }
}
