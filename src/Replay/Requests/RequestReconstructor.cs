using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// Turns the event stream into allocation and free requests for every policy's model (design.md, Replay: Requests).
/// Frees are matched to the live allocation covering their pfn (a high-order allocation may be freed in pieces);
/// <c>mm_page_free_batched</c> repeats the <c>mm_page_free</c> just before it on current kernels
/// (observed-kernel-behaviour.md) and is then dropped, while a batched free with no such twin (kernels that emitted
/// only <c>mm_pagevec_free</c>) is a free of its own. Frees of pages allocated before the trace go to every model at
/// their traced pfn. Everything else odd is counted under <see cref="Anomalies"/> and resolved, never fatal.
/// </summary>
public sealed class RequestReconstructor
{
    readonly IRequestSink[] _sinks;
    readonly IPfnSet? _preexisting;
    readonly HashSet<long> _preexistingFreed = new();
    // Live allocations by head pfn: slot + 1 (0: none).
    readonly SparsePfnMap<int> _liveByHead = new();
    // Pages inside live allocations: most allocations are of pages nobody holds, and this answers that in one lookup.
    readonly SparsePfnBits _livePages = new();
    // Live allocations in slots: head pfn, order, pages not yet freed, request id, and one model pfn per sink.
    long[] _head = new long[1024], _remaining = new long[1024], _id = new long[1024], _modelPfn;
    byte[] _order = new byte[1024];
    readonly Stack<int> _freeSlots = new();
    int _slots;
    long _nextId;
    // Per CPU: the last pfns mm_page_free reported, to recognise the batched twin.
    const int RecentFrees = 64;
    long[][] _recent = [];
    int[] _recentPos = [];
    bool[] _lostSeen = [];

    public Dictionary<string, long> Anomalies { get; } = new(StringComparer.Ordinal);
    public long Allocations { get; private set; }
    public long Frees { get; private set; }
    public long PreexistingFrees { get; private set; }
    public long BatchedDuplicates { get; private set; }
    public long LiveAllocations => _liveByHead.Count;

    readonly Func<AllocRequest, (Classify.Sensitivity, Classify.ClassReason)>? _classify;

    public RequestReconstructor(IReadOnlyList<IRequestSink> sinks, IPfnSet? preexisting, Func<AllocRequest, (Classify.Sensitivity, Classify.ClassReason)>? classify = null)
    {
        _classify = classify;
        _sinks = sinks.ToArray();
        _preexisting = preexisting;
        _modelPfn = new long[1024 * Math.Max(_sinks.Length, 1)];
    }

    void Count(string anomaly, long n = 1) => Anomalies[anomaly] = Anomalies.GetValueOrDefault(anomaly) + n;

    public void Add(ReadOnlySpan<TraceEvent> events)
    {
        foreach (ref readonly var e in events) Add(in e);
    }

    public void Add(in TraceEvent e)
    {
        foreach (var s in _sinks) s.Observe(in e);
        switch (e.Kind)
        {
            case EventKind.MmPageAlloc: OnAlloc(in e); break;
            case EventKind.MmPageFree: OnFree(in e, batched: false); break;
            case EventKind.MmPageFreeBatched: OnFree(in e, batched: true); break;
            case EventKind.SysRead:
            case EventKind.SysWrite:
                if (e.Has(EventFields.Bytes) && e.Bytes > 0)
                {
                    int pages = (int)Math.Min((e.Bytes + 4095) / 4096, 1 << 20);
                    foreach (var s in _sinks) s.FileCopy(in e, pages);
                }
                break;
            case EventKind.MmFilemapAddToPageCache:
                if (e.Has(EventFields.Pfn) && e.Pfn != 0)
                {
                    long pfn = (long)e.Pfn;
                    int pages = e.Has(EventFields.Order) ? 1 << Math.Min((int)e.Order, 10) : 1;
                    bool live = FindLive(pfn, out int slot);
                    for (int s = 0; s < _sinks.Length; s++)
                    {
                        long m = live ? _modelPfn[slot * _sinks.Length + s] : pfn;
                        if (m >= 0) _sinks[s].PageCacheAccess(in e, live ? m + (pfn - _head[slot]) : m, pages);
                    }
                }
                break;
            case EventKind.LostEvents:
                // The CPU's recent history can no longer be trusted.
                EnsureCpu(e.Cpu);
                Array.Fill(_recent[e.Cpu], -1);
                _lostSeen[e.Cpu] = true;
                Count("lost_event_records");
                break;
        }
    }

    void OnAlloc(in TraceEvent e)
    {
        if (!e.Has(EventFields.Pfn) || e.Pfn == 0 || e.Pfn == ulong.MaxValue) { Count("failed_allocations"); return; }
        int order = e.Has(EventFields.Order) ? e.Order : 0;
        if (order > 20) { Count("implausible_order"); return; }
        long pfn = (long)e.Pfn;
        // An allocation of pages the replay holds as live: their free was lost. Release the old allocation first.
        if (FindLive(pfn, out int stale))
        {
            Count("alloc_of_live_pfn");
            ReleaseWhole(stale, e.TsNs, e.Cpu);
        }
        ulong gfp = e.Has(EventFields.Gfp) ? e.Gfp : 0;
        int mt = e.Has(EventFields.Migratetype) && e.Migratetype >= 0 ? e.Migratetype
            : Migratetype.FromGfpBits((gfp & (ulong)Ingest.Canonical.Gfp.Movable) != 0, (gfp & (ulong)Ingest.Canonical.Gfp.Reclaimable) != 0);
        var req = new AllocRequest(e.TsNs, e.Cpu, e.Pid, e.Has(EventFields.Comm) ? e.CommId : -1, pfn, order, gfp, mt,
            GfpZone(gfp, e.Has(EventFields.Gfp)), Allocations);
        if (_classify is not null) { var (c, why) = _classify(req); req = req with { Class = c, Reason = why }; }
        int slot = NewSlot();
        _head[slot] = pfn; _order[slot] = (byte)order; _remaining[slot] = 1L << order; _id[slot] = _nextId++;
        for (int s = 0; s < _sinks.Length; s++) _modelPfn[slot * _sinks.Length + s] = _sinks[s].Alloc(in req);
        _liveByHead.Set(pfn, slot + 1);
        _livePages.SetRange(pfn, 1L << order, true);
        Allocations++;
    }

    /// <summary><c>gfp_zone()</c>: __GFP_DMA → DMA, __GFP_DMA32 → DMA32, __GFP_HIGHMEM|__GFP_MOVABLE → MOVABLE (falls back
    /// to NORMAL when there is no movable zone), otherwise NORMAL.</summary>
    public static int GfpZone(ulong gfp, bool known)
    {
        if (!known) return ZoneIndex.Normal;
        if ((gfp & (ulong)Ingest.Canonical.Gfp.Dma) != 0) return ZoneIndex.Dma;
        if ((gfp & (ulong)Ingest.Canonical.Gfp.Dma32) != 0) return ZoneIndex.Dma32;
        const ulong movable = (ulong)(Ingest.Canonical.Gfp.Highmem | Ingest.Canonical.Gfp.Movable);
        if ((gfp & movable) == movable) return ZoneIndex.Movable;
        return ZoneIndex.Normal;
    }

    void OnFree(in TraceEvent e, bool batched)
    {
        if (!e.Has(EventFields.Pfn) || e.Pfn == 0 || e.Pfn == ulong.MaxValue) { Count("free_without_page"); return; }
        long pfn = (long)e.Pfn;
        int order = batched ? 0 : e.Has(EventFields.Order) ? e.Order : 0;
        if (order > 20) { Count("implausible_order"); return; }
        EnsureCpu(e.Cpu);
        if (batched)
        {
            if (SeenRecently(e.Cpu, pfn)) { BatchedDuplicates++; return; }
            Count("batched_free_without_twin");
        }
        else Remember(e.Cpu, pfn);

        if (FindLive(pfn, out int slot))
        {
            long offset = pfn - _head[slot];
            long pages = 1L << order;
            if (offset + pages > 1L << _order[slot])
            {
                Count("free_order_exceeds_allocation");
                pages = (1L << _order[slot]) - offset;
                order = 63 - (int)ulong.LeadingZeroCount((ulong)pages);
            }
            var req = new FreeRequest(e.TsNs, e.Cpu, pfn, order, _id[slot], offset);
            for (int s = 0; s < _sinks.Length; s++)
            {
                long m = _modelPfn[slot * _sinks.Length + s];
                if (m >= 0) _sinks[s].Free(in req, m + offset);
            }
            _remaining[slot] -= pages;
            _livePages.SetRange(pfn, pages, false);
            if (_remaining[slot] <= 0) Retire(slot);
            Frees++;
            return;
        }
        if (_preexisting is not null && _preexisting.Contains(pfn) && _preexistingFreed.Add(pfn))
        {
            var req = new FreeRequest(e.TsNs, e.Cpu, pfn, order, -1, 0);
            foreach (var s in _sinks) s.Free(in req, pfn);
            PreexistingFrees++;
            Frees++;
            return;
        }
        // Freed again with no allocation traced in between: on kernels whose alloc_pages_bulk() emits no mm_page_alloc
        // (vmalloc, sunrpc, …; model-reference.md §2) the pages came off the CPU's pcp list unseen. Each model makes
        // the same untraced allocation now (order and migratetype of a bulk request: order 0, unmovable) and frees it.
        Count(e.Cpu < _lostSeen.Length && _lostSeen[e.Cpu] ? "free_without_traced_alloc_after_lost_events" : "free_without_traced_alloc");
        var bulk = new AllocRequest(e.TsNs, e.Cpu, e.Pid, e.Has(EventFields.Comm) ? e.CommId : -1, pfn, order, 0, Migratetype.Unmovable, ZoneIndex.Normal);
        var free = new FreeRequest(e.TsNs, e.Cpu, pfn, order, _nextId++, 0);
        foreach (var s in _sinks)
        {
            long m = s.Alloc(in bulk);
            if (m >= 0) s.Free(in free, m);
        }
        Frees++;
    }

    /// <summary>The live allocation whose pages include <paramref name="pfn"/>: its head is <paramref name="pfn"/> with low bits cleared.</summary>
    bool FindLive(long pfn, out int slot)
    {
        if (!_livePages.Contains(pfn)) { slot = -1; return false; }
        for (int k = 0; k <= 20; k++)
        {
            long head = pfn & ~((1L << k) - 1);
            slot = _liveByHead.Get(head) - 1;
            if (slot >= 0 && pfn < head + (1L << _order[slot])) return true;
            if (head == 0) break;
        }
        slot = -1;
        return false;
    }

    void ReleaseWhole(int slot, long ts, int cpu)
    {
        long pages = _remaining[slot];
        int order = _order[slot];
        if (pages == 1L << order)
        {
            var req = new FreeRequest(ts, cpu, _head[slot], order, _id[slot], 0);
            for (int s = 0; s < _sinks.Length; s++)
            {
                long m = _modelPfn[slot * _sinks.Length + s];
                if (m >= 0) _sinks[s].Free(in req, m);
            }
        }
        else Count("partly_freed_allocation_dropped");
        Retire(slot);
    }

    void Retire(int slot)
    {
        _livePages.SetRange(_head[slot], 1L << _order[slot], false);
        _liveByHead.Set(_head[slot], 0);
        _freeSlots.Push(slot);
    }

    int NewSlot()
    {
        if (_freeSlots.TryPop(out int s)) return s;
        if (_slots == _head.Length)
        {
            int n = _head.Length * 2;
            Array.Resize(ref _head, n); Array.Resize(ref _remaining, n); Array.Resize(ref _id, n); Array.Resize(ref _order, n);
            Array.Resize(ref _modelPfn, n * Math.Max(_sinks.Length, 1));
        }
        return _slots++;
    }

    void EnsureCpu(int cpu)
    {
        if (cpu < _recent.Length) return;
        int old = _recent.Length;
        Array.Resize(ref _recent, cpu + 1);
        Array.Resize(ref _recentPos, cpu + 1);
        Array.Resize(ref _lostSeen, cpu + 1);
        for (int c = old; c <= cpu; c++) { _recent[c] = new long[RecentFrees]; Array.Fill(_recent[c], -1); }
    }

    void Remember(int cpu, long pfn)
    {
        _recent[cpu][_recentPos[cpu]] = pfn;
        _recentPos[cpu] = (_recentPos[cpu] + 1) & (RecentFrees - 1);
    }

    bool SeenRecently(int cpu, long pfn)
    {
        var r = _recent[cpu];
        for (int i = 0; i < r.Length; i++)
            if (r[i] == pfn) { r[i] = -1; return true; }
        return false;
    }
}
