using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// Turns the event stream into allocation and free requests for every policy's model (docs/model.md §8.1).
/// Frees are matched to the live allocation covering their pfn (a high-order allocation may be freed in pieces);
/// <c>mm_page_free_batched</c> repeats an earlier <c>mm_page_free</c> of the same page on current kernels
/// (observed-kernel-behaviour.md; the whole list is reported by mm_page_free first) and is then dropped, while a batched free with no such twin (kernels that emitted
/// only <c>mm_pagevec_free</c>) is a free of its own. Frees of pages allocated before the trace go to every model at
/// their traced pfn. Everything else odd is counted under <see cref="Anomalies"/> and resolved, never fatal.
/// </summary>
public sealed class RequestReconstructor
{
    readonly RequestPlayer<IRequestSink>[] _players;
    readonly RequestBatch _own = new();
    RequestBatch _batch;
    int _event;
    readonly IPfnSet? _preexisting;
    readonly SparsePfnBits _preexistingFreed = new();
    // Live allocations by head pfn: slot + 1 (0: none).
    readonly SparsePfnMap<int> _liveByHead = new();
    // Pages inside live allocations: most allocations are of pages nobody holds, and this answers that in one lookup.
    readonly SparsePfnBits _livePages = new();
    // Pages inside the span of a live allocation, freed or not: spans never overlap, so a live page in a span is that
    // allocation's.
    readonly SparsePfnBits _slotPages = new();
    // Live allocations in slots: head pfn, order, pages not yet freed, request id. Where each model put them is the
    // players' business (RequestPlayer), so one reconstruction can feed models on other threads.
    long[] _head = new long[1024], _remaining = new long[1024], _id = new long[1024];
    byte[] _order = new byte[1024];
    readonly Stack<int> _freeSlots = new();
    int _slots;
    long _nextId;
    // Pages mm_page_free reported whose mm_page_free_batched twin has not come yet. free_unref_page_list() (≤ 6.9) and
    // free_unref_folios() (6.10+) emit mm_page_free for the whole list first and the batched events after, and a list
    // holds hundreds of pages (a 6.1 recording shows runs of 330), so the twin is looked up by pfn, not in a window.
    readonly SparsePfnBits _awaitingTwin = new();
    bool[] _lostSeen = [];

    public Dictionary<string, long> Anomalies { get; } = new(StringComparer.Ordinal);
    public long Allocations { get; private set; }
    public long Frees { get; private set; }
    public long PreexistingFrees { get; private set; }
    public long BatchedDuplicates { get; private set; }
    public long LiveAllocations => _slots - _freeSlots.Count;

    readonly Classifier? _classify;

    /// <summary>Classifies one allocation (by reference: an <see cref="AllocRequest"/> is 80 bytes, and this runs for
    /// every allocation of the trace).</summary>
    public delegate Classify.Sensitivity Classifier(in AllocRequest r, out Classify.ClassReason reason);

    /// <param name="sinks">models fed directly by <see cref="Add(in TraceEvent)"/>; empty when the caller plays the
    /// batches of <see cref="Add(ReadOnlySpan{TraceEvent}, RequestBatch)"/> itself.</param>
    public RequestReconstructor(IReadOnlyList<IRequestSink> sinks, IPfnSet? preexisting, Classifier? classify = null)
    {
        _classify = classify;
        _players = sinks.Select(s => new RequestPlayer<IRequestSink>(s)).ToArray();
        _preexisting = preexisting;
        _batch = _own;
    }

    /// <summary>Pfns at or past this are outside the simulated machine: counted, never looked up or stored.</summary>
    public long PfnLimit { get; init; } = MachineLimits.MaxPfn;

    void Count(string anomaly, long n = 1) => Anomalies[anomaly] = Anomalies.GetValueOrDefault(anomaly) + n;

    /// <summary>A <c>--window</c>'s first and last counted times: <see cref="AtWindowStart"/> runs before the first event
    /// at or past the start, <see cref="AtWindowEnd"/> before the first event past the end (the counters then hold what
    /// came before).</summary>
    public long WindowFromNs { get; init; } = long.MinValue;
    public long WindowToNs { get; init; } = long.MaxValue;
    public Action? AtWindowStart { get; init; }
    public Action? AtWindowEnd { get; init; }
    int _windowState;

    /// <summary>Reconstructs the requests of <paramref name="events"/> into <paramref name="batch"/> (cleared first),
    /// for <see cref="RequestPlayer{TSink}"/>s to apply to their models.</summary>
    public void Add(ReadOnlySpan<TraceEvent> events, RequestBatch batch)
    {
        batch.Clear();
        _batch = batch;
        for (int i = 0; i < events.Length; i++)
        {
            _event = i;
            if (_windowState < 2 && (AtWindowStart is not null || AtWindowEnd is not null)) WindowEdges(events[i].TsNs);
            Reconstruct(in events[i]);
        }
        _batch = _own;
    }

    /// <summary>Reconstructs and feeds the sinks given at construction.</summary>
    public void Add(ReadOnlySpan<TraceEvent> events)
    {
        foreach (ref readonly var e in events) Add(in e);
    }

    /// <summary>Reconstructs one event and feeds the sinks given at construction.</summary>
    public void Add(in TraceEvent e)
    {
        _own.Clear();
        _event = 0;
        Reconstruct(in e);
        foreach (var p in _players)
        {
            p.Begin(_own);
            p.Event(0, in e);
        }
    }

    ref RequestAction Emit(RequestOp op)
    {
        ref var a = ref _batch.Next();
        a.Event = _event;
        a.Op = op;
        a.Slot = -1;
        return ref a;
    }

    void WindowEdges(long ts)
    {
        if (_windowState == 0 && ts >= WindowFromNs) { _windowState = 1; AtWindowStart?.Invoke(); }
        if (_windowState == 1 && ts > WindowToNs) { _windowState = 2; AtWindowEnd?.Invoke(); }
    }

    void Reconstruct(in TraceEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.MmPageAlloc: OnAlloc(in e); break;
            case EventKind.MmPageFree: OnFree(in e, batched: false); break;
            case EventKind.MmPageFreeBatched: OnFree(in e, batched: true); break;
            case EventKind.SysRead:
            case EventKind.SysWrite:
                if (e.Has(EventFields.Bytes) && e.Bytes > 0)
                {
                    ref var a = ref Emit(RequestOp.FileCopy);
                    a.Pages = (int)Math.Min((e.Bytes + 4095) / 4096, 1 << 20);
                }
                break;
            case EventKind.MmFilemapAddToPageCache:
                if (e.Has(EventFields.Pfn) && e.Pfn != 0 && e.Pfn < (ulong)PfnLimit)
                {
                    long pfn = (long)e.Pfn;
                    ref var a = ref Emit(RequestOp.PageCache);
                    a.Pages = e.Has(EventFields.Order) ? 1 << Math.Min((int)e.Order, 10) : 1;
                    a.Pfn = pfn;
                    if (FindLive(pfn, out int slot)) { a.Slot = slot; a.Offset = pfn - _head[slot]; }
                }
                break;
            case EventKind.MmMigratePages:
                // Only compaction migrates into pages it took off the free lists itself (compaction_alloc()); every other
                // reason allocates its targets through the allocator, traced.
                if (e.Has(EventFields.MigratedPages | EventFields.MigrateReason) && e.MigrateReason == MigrateReasons.Compaction && e.MigratedPages > 0)
                {
                    ref var c = ref Emit(RequestOp.CompactionTargets);
                    c.Pages = (int)Math.Min(e.MigratedPages, 1 << 20);
                }
                break;
            case EventKind.LostEvents:
                // A lost mm_page_free leaves its batched twin looking like a free of its own (which it then is); a lost
                // twin leaves a mark that the page's next allocation clears.
                EnsureCpu(e.Cpu);
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
        if ((ulong)pfn >= (ulong)PfnLimit) { Count("pfn_outside_the_machine"); return; }
        // The buddy allocator hands out naturally aligned blocks only: anything else is a corrupt event.
        if ((pfn & ((1L << order) - 1)) != 0) { Count("misaligned_allocation"); return; }
        // An allocation of pages the replay holds as live: their free was lost. Release every old allocation they overlap
        // first, so no model ever holds one page for two allocations.
        if (_slotPages.AnyInRange(pfn, 1L << order))
        {
            // Pages of an older allocation, live or freed in part since: one page never belongs to two allocations.
            if (_livePages.AnyInRange(pfn, 1L << order)) Count("alloc_of_live_pfn");
            for (long p = pfn, end = pfn + (1L << order); p < end; p++)
                if (FindSlot(p, out int stale)) ReleaseWhole(stale);
        }
        ulong gfp = e.Has(EventFields.Gfp) ? e.Gfp : 0;
        int mt = e.Has(EventFields.Migratetype) && e.Migratetype >= 0 ? e.Migratetype
            : Migratetype.FromGfpBits((gfp & (ulong)Ingest.Canonical.Gfp.Movable) != 0, (gfp & (ulong)Ingest.Canonical.Gfp.Reclaimable) != 0);
        int zone = GfpZone(gfp, e.Has(EventFields.Gfp));
        var cls = Classify.Sensitivity.Nonsensitive;
        var why = Classify.ClassReason.Default;
        if (_classify is not null)
            cls = _classify(new AllocRequest(e.TsNs, e.Cpu, e.Pid, e.Has(EventFields.Comm) ? e.CommId : -1, pfn, order, gfp, mt, zone, Allocations,
                CallSiteId: e.Has(EventFields.CallSite) ? e.CallSiteId : -1), out why);
        int slot = NewSlot();
        _head[slot] = pfn; _order[slot] = (byte)order; _remaining[slot] = 1L << order; _id[slot] = _nextId++;
        ref var a = ref Emit(RequestOp.Alloc);
        a.Slot = slot; a.Pfn = pfn; a.Order = (byte)order; a.Gfp = gfp; a.Migratetype = (sbyte)mt; a.HighestZoneIdx = (byte)zone;
        a.Id = Allocations; a.Class = cls; a.Reason = why;
        _liveByHead.Set(pfn, slot + 1);
        _livePages.SetRange(pfn, 1L << order, true);
        _slotPages.SetRange(pfn, 1L << order, true);
        _awaitingTwin.SetRange(pfn, 1L << order, false);
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
        if ((ulong)pfn >= (ulong)PfnLimit) { Count("pfn_outside_the_machine"); return; }
        int order = batched ? 0 : e.Has(EventFields.Order) ? e.Order : 0;
        if (order > 20) { Count("implausible_order"); return; }
        EnsureCpu(e.Cpu);
        if (batched)
        {
            if (_awaitingTwin.Contains(pfn)) { _awaitingTwin.SetRange(pfn, 1, false); BatchedDuplicates++; return; }
            Count("batched_free_without_twin");
        }
        else _awaitingTwin.SetRange(pfn, 1, true);

        if (FindLive(pfn, out int slot))
        {
            long offset = pfn - _head[slot];
            long pages = 1L << order;
            if (offset + pages > 1L << _order[slot])
            {
                Count("free_order_exceeds_allocation");
                pages = (1L << _order[slot]) - offset;
                order = 63 - (int)ulong.LeadingZeroCount((ulong)pages);
                pages = 1L << order;
            }
            // An order-0 piece is aligned, and FindLive has checked its one page.
            if (pages > 1 && ((offset & (pages - 1)) != 0 || !AllLive(pfn, pages)))
            {
                // A piece not aligned to its own order, or one overlapping pages already freed (a lost allocation
                // and free in between): the buddy allocator only takes naturally aligned blocks of pages that are in
                // use (__free_one_page() would corrupt its lists, the kernel reports bad_page()). Free the pages of
                // the range that are still live one by one.
                Count("free_of_misaligned_or_freed_pages");
                for (long k = 0; k < pages; k++)
                    if (_livePages.Contains(pfn + k)) EmitFree(slot, pfn + k, 0, offset + k, 1);
                Frees++;
                return;
            }
            EmitFree(slot, pfn, order, offset, pages);
            Frees++;
            return;
        }
        if (_preexisting is not null && _preexisting.Contains(pfn))
        {
            // Pages allocated before the trace, freed once each at their traced pfn (every model holds them allocated
            // from the start). Only pages that are still so go to the models: one block when the whole naturally
            // aligned range is, otherwise page by page (a range reaching into pages freed already, or allocated by the
            // trace since).
            long pages = 1L << order;
            if ((pfn & (pages - 1)) == 0 && AllPreexisting(pfn, pages)) EmitPreexisting(pfn, order);
            else
            {
                Count("free_of_misaligned_or_freed_pages");
                for (long k = 0; k < pages; k++) if (AllPreexisting(pfn + k, 1)) EmitPreexisting(pfn + k, 0);
            }
            PreexistingFrees++;
            Frees++;
            return;
        }
        // Freed again with no allocation traced in between: on kernels whose alloc_pages_bulk() emits no mm_page_alloc
        // (vmalloc, sunrpc, …; docs/model.md §2) the pages came off the CPU's pcp list unseen. Each model makes
        // the same untraced allocation now (order and migratetype of a bulk request: order 0, unmovable) and frees it.
        Count(e.Cpu < _lostSeen.Length && _lostSeen[e.Cpu] ? "free_without_traced_alloc_after_lost_events" : "free_without_traced_alloc");
        ref var u = ref Emit(RequestOp.UntracedAllocFree);
        u.Pfn = pfn; u.Order = (byte)order; u.Id = _nextId++;
        Frees++;
    }

    void EmitFree(int slot, long pfn, int order, long offset, long pages)
    {
        ref var a = ref Emit(RequestOp.Free);
        a.Slot = slot; a.Pfn = pfn; a.Order = (byte)order; a.Id = _id[slot]; a.Offset = offset;
        _remaining[slot] -= pages;
        _livePages.SetRange(pfn, pages, false);
        if (_remaining[slot] <= 0) Retire(slot);
    }

    bool AllPreexisting(long pfn, long pages)
    {
        for (long k = 0; k < pages; k++)
            if (!_preexisting!.Contains(pfn + k) || _preexistingFreed.Contains(pfn + k) || _livePages.Contains(pfn + k)) return false;
        return true;
    }

    void EmitPreexisting(long pfn, int order)
    {
        _preexistingFreed.SetRange(pfn, 1L << order, true);
        ref var a = ref Emit(RequestOp.FreePreexisting);
        a.Pfn = pfn; a.Order = (byte)order;
    }

    bool AllLive(long pfn, long pages)
    {
        for (long k = 0; k < pages; k++) if (!_livePages.Contains(pfn + k)) return false;
        return true;
    }

    /// <summary>The live allocation whose pages include <paramref name="pfn"/>: its head is <paramref name="pfn"/> with low bits cleared.</summary>
    bool FindLive(long pfn, out int slot)
    {
        if (!_livePages.Contains(pfn)) { slot = -1; return false; }
        return FindSlot(pfn, out slot);
    }

    /// <summary>The live allocation whose span includes <paramref name="pfn"/>, whether or not that page is freed yet.</summary>
    bool FindSlot(long pfn, out int slot)
    {
        if (!_slotPages.Contains(pfn)) { slot = -1; return false; }
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

    void ReleaseWhole(int slot)
    {
        long pages = _remaining[slot];
        int order = _order[slot];
        if (pages == 1L << order)
        {
            ref var a = ref Emit(RequestOp.Free);
            a.Slot = slot; a.Pfn = _head[slot]; a.Order = (byte)order; a.Id = _id[slot]; a.Offset = 0;
        }
        else Count("partly_freed_allocation_dropped");
        Retire(slot);
    }

    void Retire(int slot)
    {
        _livePages.SetRange(_head[slot], 1L << _order[slot], false);
        _slotPages.SetRange(_head[slot], 1L << _order[slot], false);
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
        }
        return _slots++;
    }

    void EnsureCpu(int cpu)
    {
        if (cpu >= _lostSeen.Length) Array.Resize(ref _lostSeen, cpu + 1);
    }
}
