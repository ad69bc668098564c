using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// First pass over the events: which pfns the trace frees before it allocates them (allocations older than the
/// trace, which every model must hold as allocated at the start), the highest pfn and the CPUs seen.
/// </summary>
public sealed class PreScan
{
    public PfnBitmap KeepAllocated { get; }
    readonly PfnBitmap _touched;
    public long MaxPfn { get; private set; } = -1;
    public int MaxCpu { get; private set; } = -1;
    public long Events { get; private set; }
    public long PfnsOutOfRange { get; private set; }
    /// <summary>Order-0 allocations per CPU and pcp migratetype: how the trace's demand spreads over the pcp lists.</summary>
    public long[][] Order0AllocsByCpu { get; private set; } = [];
    /// <summary>Per CPU, the times the trace shows pcp decay running (<see cref="DecayPoints"/>).</summary>
    public Dictionary<int, List<long>> DecayPointsByCpu { get; } = new();
    public long FirstTs { get; private set; } = long.MaxValue;
    public long LastTs { get; private set; } = long.MinValue;
    EventKind[] _lastKind = [];

    public PreScan(long pfnLimit)
    {
        KeepAllocated = new PfnBitmap(0, pfnLimit);
        _touched = new PfnBitmap(0, pfnLimit);
    }

    public void Add(ReadOnlySpan<TraceEvent> events)
    {
        foreach (ref readonly var e in events)
        {
            Events++;
            if (e.Cpu > MaxCpu) MaxCpu = e.Cpu;
            if (e.TsNs < FirstTs) FirstTs = e.TsNs;
            if (e.TsNs > LastTs) LastTs = e.TsNs;
            if (e.Kind == EventKind.MmPagePcpuDrain)
            {
                if (DecayPoints.IsDecayStart(ref _lastKind, e.Cpu, e.Kind))
                {
                    if (!DecayPointsByCpu.TryGetValue(e.Cpu, out var list)) DecayPointsByCpu[e.Cpu] = list = new();
                    list.Add(e.TsNs);
                }
            }
            else DecayPoints.Note(ref _lastKind, e.Cpu, e.Kind);
            if (!e.Has(EventFields.Pfn)) continue;
            long pfn = (long)e.Pfn;
            int order = e.Has(EventFields.Order) ? e.Order : 0;
            switch (e.Kind)
            {
                case EventKind.MmPageAlloc:
                    Touch(pfn, order, free: false);
                    if (order == 0 && e.Has(EventFields.Migratetype) && e.Migratetype is >= 0 and < Migratetype.PcpTypes)
                    {
                        if (e.Cpu >= Order0AllocsByCpu.Length)
                        {
                            var a = Order0AllocsByCpu;
                            Array.Resize(ref a, e.Cpu + 1);
                            for (int c = 0; c < a.Length; c++) a[c] ??= new long[Migratetype.PcpTypes];
                            Order0AllocsByCpu = a;
                        }
                        Order0AllocsByCpu[e.Cpu][e.Migratetype]++;
                    }
                    break;
                case EventKind.MmPageFree:
                    Touch(pfn, order, free: true);
                    break;
                case EventKind.MmPageFreeBatched:
                    Touch(pfn, 0, free: true);
                    break;
            }
        }
    }

    void Touch(long pfn, int order, bool free)
    {
        if (order > 20) return;
        long n = 1L << order;
        if (pfn + n > MaxPfn) MaxPfn = pfn + n - 1;
        if (pfn < 0 || pfn + n > _touched.Pages) { PfnsOutOfRange++; return; }
        if (free && !_touched.AnyInRange(pfn, n)) KeepAllocated.AddRange(pfn, n);
        else if (free)
        {
            // Partly touched: only the untouched pages were allocated before the trace.
            for (long p = pfn; p < pfn + n; p++) if (!_touched.Contains(p)) KeepAllocated.AddRange(p, 1);
        }
        _touched.AddRange(pfn, n);
    }
}
