using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// First pass over the events: which pfns the trace frees before it allocates them (allocations older than the
/// trace, which every model must hold as allocated at the start), the highest pfn and the CPUs seen.
/// </summary>
public sealed class PreScan
{
    /// <summary>Pages the trace frees before it allocates them. Sparse: memory only where the trace touches.</summary>
    public SparsePfnBits KeepAllocated { get; } = new();
    readonly SparsePfnBits _touched = new();
    readonly long _pfnLimit;
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
    // Page-cache classification: live allocation heads → their ordinal; ordinals later inserted into the page cache.
    readonly SparsePfnMap<long> _ordinalByHead = new(); // ordinal + 1
    readonly List<ulong> _pageCacheOrdinals = new();
    long _ordinal;

    /// <summary>Was the <paramref name="ordinal"/>-th successful allocation later added to the page cache?</summary>
    public bool IsPageCache(long ordinal)
    {
        long w = ordinal >> 6;
        return ordinal >= 0 && w < _pageCacheOrdinals.Count && (_pageCacheOrdinals[(int)w] & (1UL << (int)(ordinal & 63))) != 0;
    }

    public long PageCacheAllocations { get; private set; }
    long _pagesAllocated, _userPagesAllocated;
    /// <summary>Share of allocated pages that are user data (<c>__GFP_HARDWALL</c>): the "trace mix" of §8.3.</summary>
    public double SensitivePageFraction => _pagesAllocated == 0 ? 0 : (double)_userPagesAllocated / _pagesAllocated;

    void MarkPageCache(long pfn)
    {
        for (int k = 0; k <= 10; k++)
        {
            long head = pfn & ~((1L << k) - 1);
            long ord = _ordinalByHead.Get(head) - 1;
            if (ord < 0) continue;
            int w = (int)(ord >> 6);
            while (_pageCacheOrdinals.Count <= w) _pageCacheOrdinals.Add(0);
            ulong bit = 1UL << (int)(ord & 63);
            if ((_pageCacheOrdinals[w] & bit) == 0) { _pageCacheOrdinals[w] |= bit; PageCacheAllocations++; }
            return;
        }
    }

    readonly (long Start, long End, int Zone)[] _zones;
    int _lastZone;
    // The requested migratetype of each live allocation's head pfn (0: unknown, else mt + 1), only where touched.
    readonly SparsePfnMap<byte> _allocMt = new(); // requested migratetype + 1 of live allocation heads

    /// <summary>What the pre-scan follows of one CPU's pcp lists in one zone.</summary>
    sealed class PcpTrack
    {
        /// <summary>Running balance of blocks per pcp list (pindex) and the lowest it went.</summary>
        public readonly long[] Balance = new long[PerCpuPages.NrPcpLists], Min = new long[PerCpuPages.NrPcpLists];
        /// <summary>Pages on all the lists relative to the start (every free and allocation of a pcp order, refills,
        /// drains), and that balance just before the first drain (long.MinValue: no drain seen).</summary>
        public long Pages, AtFirstDrain = long.MinValue;
    }

    // Per CPU × zone (cpu * ZoneIndex.Count + zone), created when the trace first touches it.
    PcpTrack?[] _tracks = new PcpTrack?[16 * ZoneIndex.Count];

    /// <summary>Follow the pcp lists (<see cref="MinimumPcpBlocks"/>, <see cref="PagesBeforeFirstDrain"/>,
    /// <see cref="Order0AllocsByCpu"/>)? They seed the start snapshot's pcp counts onto lists, so without a snapshot
    /// that has pcp counts nothing reads them and the pre-scan skips them (about half its work per allocation and free).</summary>
    public bool TracksPcpLists { get; }

    /// <param name="pfnLimit">pfns at or above this are counted as out of range.</param>
    /// <param name="zones">pfn ranges of the zones (for which zone's pcp lists an event touches); empty: one zone.</param>
    /// <param name="trackPcpLists">see <see cref="TracksPcpLists"/>.</param>
    public PreScan(long pfnLimit, IReadOnlyList<(long Start, long End, int Zone)>? zones = null, bool trackPcpLists = true)
    {
        _pfnLimit = pfnLimit;
        _zones = zones?.ToArray() ?? [];
        TracksPcpLists = trackPcpLists;
    }

    PcpTrack? Track(int cpu, int zone)
    {
        int k = cpu * ZoneIndex.Count + zone;
        return k < _tracks.Length ? _tracks[k] : null;
    }

    /// <summary>The pcp lists of <paramref name="cpu"/> in the zone holding <paramref name="pfn"/>, or null when the pfn
    /// is in no zone or <paramref name="order"/> is never cached on a pcp list.</summary>
    PcpTrack? TrackFor(int cpu, long pfn, int order)
    {
        if (!TracksPcpLists || !PerCpuPages.AllowedOrder(order)) return null;
        int zone = ZoneOf(pfn);
        if (zone < 0) return null;
        int k = cpu * ZoneIndex.Count + zone;
        if (k >= _tracks.Length) Array.Resize(ref _tracks, Math.Max(k + 1, _tracks.Length * 2));
        return _tracks[k] ??= new PcpTrack();
    }

    /// <summary>
    /// Pages the pcp lists of <paramref name="cpu"/> in <paramref name="zone"/> gained from the trace start up to the first
    /// drain the trace shows there (counting the free that triggered it), or null when the trace shows none. Before v6.7
    /// <c>high</c> is fixed, and a free drains exactly when the count reaches it, so the count at the start was
    /// high − this (for an order-0 free; a larger free may overshoot high).
    /// </summary>
    public long? PagesBeforeFirstDrain(int cpu, int zone) =>
        Track(cpu, zone) is { AtFirstDrain: not long.MinValue } t ? t.AtFirstDrain : null;

    static void PageStep(PcpTrack t, int order, long delta, bool drain = false)
    {
        if (drain && t.AtFirstDrain == long.MinValue) t.AtFirstDrain = t.Pages;
        t.Pages += delta << order;
    }

    /// <summary>
    /// The fewest blocks each pcp list of <paramref name="cpu"/> in <paramref name="zone"/> must have held at the start
    /// for the trace to make sense: the deepest point its running balance reached, counting allocations served from the
    /// list (<c>mm_page_alloc</c> of a pcp order), refills (<c>mm_page_alloc_zone_locked</c> with percpu_refill=1), drains
    /// and frees (to the list of the freed allocation's type, when the trace showed it). Indexed by pindex.
    /// </summary>
    public long[] MinimumPcpBlocks(int cpu, int zone)
    {
        var need = new long[PerCpuPages.NrPcpLists];
        if (Track(cpu, zone) is { } t)
            for (int i = 0; i < need.Length; i++) need[i] = Math.Max(0, -t.Min[i]);
        return need;
    }

    int ZoneOf(long pfn)
    {
        var zones = _zones;
        if (zones.Length == 0) return ZoneIndex.Normal;
        ref readonly var last = ref zones[_lastZone];
        if (pfn >= last.Start && pfn < last.End) return last.Zone;
        for (int i = 0; i < zones.Length; i++)
            if (pfn >= zones[i].Start && pfn < zones[i].End) { _lastZone = i; return zones[i].Zone; }
        return -1;
    }

    static void ListStep(PcpTrack t, int order, int mt, int delta)
    {
        if ((uint)mt >= Migratetype.PcpTypes) return;
        int i = PerCpuPages.Pindex(Freetype.OfMigratetype(mt), order);
        long b = t.Balance[i] += delta;
        if (b < t.Min[i]) t.Min[i] = b;
    }

    int AllocMt(long pfn) => _allocMt.Get(pfn) - 1;

    void SetAllocMt(long pfn, int mt) => _allocMt.Set(pfn, (byte)(mt + 1));

    /// <summary>Both halves of the pre-scan over <paramref name="events"/>. The halves share no state, so a caller may
    /// run <see cref="AddPageCache"/> and <see cref="AddPagesAndLists"/> over the same chunks on two threads.</summary>
    public void Add(ReadOnlySpan<TraceEvent> events)
    {
        AddPageCache(events);
        AddPagesAndLists(events);
    }

    /// <summary>Numbers the successful allocations and notes which of them the page cache later took; counts the pages
    /// allocated (and how many for user data). The lighter half: the thread that also reads the input runs it.</summary>
    public void AddPageCache(ReadOnlySpan<TraceEvent> events)
    {
        foreach (ref readonly var e in events)
        {
            if (!e.Has(EventFields.Pfn)) continue;
            long pfn = (long)e.Pfn;
            switch (e.Kind)
            {
                case EventKind.MmPageAlloc:
                    int order = e.Has(EventFields.Order) ? e.Order : 0;
                    if (pfn != 0 && pfn != -1 && order <= 20)
                    {
                        _ordinalByHead.Set(pfn, ++_ordinal);
                        _pagesAllocated += 1L << order;
                        if ((e.Gfp & (ulong)Gfp.Hardwall) != 0) _userPagesAllocated += 1L << order;
                    }
                    break;
                case EventKind.MmFilemapAddToPageCache:
                    MarkPageCache(pfn);
                    break;
                case EventKind.MmPageFree:
                    _ordinalByHead.Set(pfn, 0);
                    break;
            }
        }
    }

    /// <summary>Events, CPUs and time span; which pages are older than the trace and the highest pfn; the pcp lists'
    /// running balances; where pcp decay ran.</summary>
    public void AddPagesAndLists(ReadOnlySpan<TraceEvent> events)
    {
        // The running maximum and time span in locals, stored once per chunk: the loop below runs once per event.
        int maxCpu = MaxCpu;
        long firstTs = FirstTs, lastTs = LastTs;
        foreach (ref readonly var e in events)
        {
            int cpu = e.Cpu;
            if (cpu > maxCpu) maxCpu = cpu;
            if (e.TsNs < firstTs) firstTs = e.TsNs;
            if (e.TsNs > lastTs) lastTs = e.TsNs;
            switch (e.Kind)
            {
                case EventKind.MmPagePcpuDrain:
                    if (e.Has(EventFields.Pfn) && TrackFor(cpu, (long)e.Pfn, e.Order) is { } drained)
                    {
                        ListStep(drained, e.Order, e.Migratetype, -1);
                        PageStep(drained, e.Order, -1, drain: true);
                    }
                    if (DecayPoints.IsDecayStart(ref _lastKind, cpu, e.Kind))
                    {
                        if (!DecayPointsByCpu.TryGetValue(cpu, out var list)) DecayPointsByCpu[cpu] = list = new();
                        list.Add(e.TsNs);
                    }
                    continue;
                case EventKind.MmPageAllocZoneLocked:
                    if (e.PercpuRefill != 0 && e.Has(EventFields.Pfn) && e.Pfn != 0 && TrackFor(cpu, (long)e.Pfn, e.Order) is { } refilled)
                    {
                        ListStep(refilled, e.Order, e.Migratetype, +1);
                        PageStep(refilled, e.Order, +1);
                    }
                    break;
                case EventKind.MmPageAlloc when e.Has(EventFields.Pfn):
                {
                    var t = TouchPages(in e, free: false, out long pfn, out int order);
                    if (t is not null && pfn != 0 && pfn != -1) PageStep(t, order, -1);
                    if (TracksPcpLists && e.Has(EventFields.Migratetype) && e.Migratetype is >= 0 and < Migratetype.PcpTypes)
                    {
                        if (t is not null) ListStep(t, order, e.Migratetype, -1);
                        SetAllocMt(pfn, e.Migratetype);
                        if (order == 0) CountOrder0(cpu, e.Migratetype);
                    }
                    break;
                }
                case EventKind.MmPageFree when e.Has(EventFields.Pfn):
                {
                    var t = TouchPages(in e, free: true, out long pfn, out int order);
                    if (t is not null) PageStep(t, order, +1);
                    // free_frozen_pages() files the page under its pageblock's type; the allocation's requested type is
                    // the best the trace offers (unknown for allocations older than the trace: not counted).
                    if (TracksPcpLists && AllocMt(pfn) is int fmt and >= 0)
                    {
                        if (t is not null) ListStep(t, order, fmt, +1);
                        SetAllocMt(pfn, -1);
                    }
                    break;
                }
                case EventKind.MmPageFreeBatched when e.Has(EventFields.Pfn):
                    Touch((long)e.Pfn, 0, free: true);
                    break;
            }
            DecayPoints.Note(ref _lastKind, cpu, e.Kind);
        }
        Events += events.Length;
        MaxCpu = maxCpu;
        FirstTs = firstTs;
        LastTs = lastTs;
    }

    /// <summary>An mm_page_alloc or mm_page_free with a pfn: its pages are touched (<see cref="Touch"/>); returns the
    /// pcp lists it concerns (<see cref="TrackFor"/>), if followed.</summary>
    PcpTrack? TouchPages(in TraceEvent e, bool free, out long pfn, out int order)
    {
        pfn = (long)e.Pfn;
        order = e.Has(EventFields.Order) ? e.Order : 0;
        Touch(pfn, order, free);
        return TrackFor(e.Cpu, pfn, order);
    }

    void CountOrder0(int cpu, int mt)
    {
        if (cpu >= Order0AllocsByCpu.Length)
        {
            var a = Order0AllocsByCpu;
            Array.Resize(ref a, cpu + 1);
            for (int c = 0; c < a.Length; c++) a[c] ??= new long[Migratetype.PcpTypes];
            Order0AllocsByCpu = a;
        }
        Order0AllocsByCpu[cpu][mt]++;
    }

    void Touch(long pfn, int order, bool free)
    {
        if (order > 20) return;
        long n = 1L << order;
        if (pfn + n > MaxPfn) MaxPfn = pfn + n - 1;
        if (pfn < 0 || pfn + n > _pfnLimit) { PfnsOutOfRange++; return; }
        if (n == 1)
        {
            if (!_touched.TestAndSet(pfn) && free) KeepAllocated.SetRange(pfn, 1, true);
            return;
        }
        if (free && !_touched.AnyInRange(pfn, n)) KeepAllocated.SetRange(pfn, n, true);
        else if (free)
        {
            // Partly touched: only the untouched pages were allocated before the trace.
            for (long p = pfn; p < pfn + n; p++) if (!_touched.Contains(p)) KeepAllocated.SetRange(p, 1, true);
        }
        _touched.SetRange(pfn, n, true);
    }
}
