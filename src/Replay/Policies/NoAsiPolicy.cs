using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Tlb;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>noasi</c>: ASI off, the kernel as traced. The model allocator places every request itself (design.md,
/// <c>--placement model</c>); its pcp refills, drains and fallbacks are what the fidelity check compares with the trace.
/// </summary>
public sealed class NoAsiPolicy : IRequestSink
{
    public PageAllocator Allocator { get; }
    public CostModel Costs { get; }
    public string Name => "noasi";
    public long ModelFailures { get; private set; }
    /// <summary>Baseline work the trace shows, which every policy pays: zeroing of __GFP_ZERO allocations and the
    /// traced TLB flushes (tlb:tlb_flush by reason, include/trace/events/tlb.h).</summary>
    public long BytesZeroed { get; private set; }
    public long TlbIpisReceived { get; private set; }
    public long TlbIpisSent { get; private set; }
    public long TlbFlushesFull { get; private set; }
    public long TlbFlushPagesSingle { get; private set; }
    public double ZeroingNs { get; private set; }
    public double TlbNs { get; private set; }
    public double EstimatedNs => ZeroingNs + TlbNs;

    public NoAsiPolicy(PageAllocator allocator, CostModel? costs = null)
    {
        Allocator = allocator;
        Costs = costs ?? new CostModel();
    }

    public long Alloc(in AllocRequest r)
    {
        long pfn = Allocator.Alloc(r.Cpu, r.Order, r.HighestZoneIdx, r.Migratetype, SlowPathFlags(r.Gfp, r.Order));
        if (pfn < 0) ModelFailures++;
        if ((r.Gfp & (ulong)Gfp.Zero) != 0)
        {
            BytesZeroed += 4096L << r.Order;
            ZeroingNs += Costs.Zero4K.Ns(Costs.CpuGhz) * (1L << r.Order);
        }
        return pfn;
    }

    public void Free(in FreeRequest r, long modelPfn) => Allocator.Free(r.Cpu, modelPfn, r.Order);

    public void Observe(in TraceEvent e)
    {
        Allocator.Tick(e.TsNs);
        if (e.Kind == EventKind.TlbFlush) TracedFlush(in e);
    }

    /// <summary>Costs a traced flush by its reason: 0 task switch, 1 remote shootdown (IPI received), 2 local shootdown,
    /// 3 local mm shootdown, 4 remote send IPI (initiator), 5 remote wrong CPU (IPI handled, nothing flushed).</summary>
    void TracedFlush(in TraceEvent e)
    {
        double ghz = Costs.CpuGhz;
        double Flush(long pages)
        {
            if (pages < 0 || pages > 33) { TlbFlushesFull++; return Costs.LocalFullFlush.Ns(ghz); }
            TlbFlushPagesSingle += pages;
            return pages * Costs.InvlpgPerPage.Ns(ghz);
        }
        switch (e.TlbReason)
        {
            case 0: TlbNs += Flush(-1); break;
            case 1:
                TlbIpisReceived++;
                TlbNs += Costs.IpiPerTarget.Ns(ghz) + Costs.IpiInitiatorPerTarget.Ns(ghz) + Flush(e.TlbPages);
                break;
            case 2: case 3: TlbNs += Flush(e.TlbPages); break;
            case 4: TlbIpisSent++; TlbNs += Costs.IpiInitiatorBase.Ns(ghz); break;
            case 5:
                // flush_tlb_func() ran on a CPU that had switched away from the mm: an IPI handled, nothing flushed.
                TlbIpisReceived++;
                TlbNs += Costs.IpiPerTarget.Ns(ghz) + Costs.IpiInitiatorPerTarget.Ns(ghz);
                break;
        }
    }

    /// <summary><c>gfp_to_alloc_flags()</c>: __GFP_HIGH → ALLOC_MIN_RESERVE; without __GFP_DIRECT_RECLAIM (and without
    /// __GFP_NOMEMALLOC) → ALLOC_NON_BLOCK, plus ALLOC_HIGHATOMIC for order &gt; 0.</summary>
    public static AllocFlags SlowPathFlags(ulong gfp, int order)
    {
        var f = AllocFlags.None;
        if ((gfp & (ulong)Gfp.High) != 0) f |= AllocFlags.MinReserve;
        if ((gfp & (ulong)Gfp.DirectReclaim) == 0 && (gfp & (ulong)Gfp.NoMemalloc) == 0)
        {
            f |= AllocFlags.NonBlock;
            if (order > 0) f |= AllocFlags.HighAtomic;
        }
        return f;
    }
}
