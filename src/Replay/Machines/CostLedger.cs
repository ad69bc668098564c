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
    /// <summary>Pages mapped through the mermap, and its local flushes.</summary>
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
/// The machine's cost ledger: nanoseconds per <see cref="CostCause"/>. Every total and breakdown the results carry is
/// read from here. Some causes are charged as the work happens; the counter-derived ones (model flushes, page-table
/// pages, walks) are settled from their counters whenever the ledger is read.
/// </summary>
public sealed class CostLedger
{
    public static readonly int Causes = Enum.GetValues<CostCause>().Length;
    readonly double[] _ns = new double[Causes];

    public void Charge(CostCause cause, double ns) => _ns[(int)cause] += ns;

    /// <summary>Replaces a counter-derived cause's value.</summary>
    public void Settle(CostCause cause, double ns) => _ns[(int)cause] = ns;

    public double this[CostCause cause] => _ns[(int)cause];

    /// <summary>CPU time on all CPUs: every cause except the initiators' wait (already counted in the model flushes).</summary>
    public double CpuTimeNs => Sum(except: CostCause.InitiatorFlushes);

    /// <summary>Time on the CPUs that issued the work: the initiators' wait instead of every CPU's flush work (what a
    /// latency such as Firecracker's populate time is made of).</summary>
    public double LatencyNs => Sum(except: CostCause.ModelFlushes);

    double Sum(CostCause except)
    {
        double total = 0;
        for (int i = 0; i < _ns.Length; i++) if (i != (int)except) total += _ns[i];
        return total;
    }
}
