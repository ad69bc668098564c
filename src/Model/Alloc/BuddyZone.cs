using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Alloc;

/// <summary>
/// One zone's buddy allocator (mm/page_alloc.c; docs/model.md §1.4–§1.8): <c>free_area[order].free_list[type]</c>
/// as doubly linked lists of head pfns, the pageblock migratetype bitmap, <c>expand()</c>, <c>__free_one_page()</c> with
/// its merge restrictions above pageblock order and <c>buddy_merge_likely()</c> tail placement,
/// <c>__rmqueue_smallest()</c>, and the v6.15+ fallback (<c>__rmqueue_claim</c> / <c>__rmqueue_steal</c>). Emits the
/// events the kernel would (<c>mm_page_alloc_zone_locked</c>, <c>mm_page_alloc_extfrag</c>).
/// </summary>
public sealed partial class BuddyZone
{
    public string Name { get; }
    public long StartPfn { get; }
    public long Pages { get; }
    public BuddyOptions Options { get; }
    readonly int _maxOrder, _pbOrder;

    // Per page (index = pfn − StartPfn), two bytes: free order + 1 (bits 0–3; 0: not a free head), the free list it is on
    // (bits 4–8), allocated order + 1 (bits 9–12; 0: not an allocated head) and the migratetype an allocated head was
    // requested with (bits 13–15, for try_to_claim_block's movable count). Free heads' list links live in FreeLinks.
    readonly ushort[] _state;
    readonly FreeLinks _links = new();
    const int FreeOrderMask = 0xF, ListShift = 4, ListMask = 0x1F, AllocOrderShift = 9, AllocMtShift = 13;

    int FreeOrderOf(int i) => (_state[i] & FreeOrderMask) - 1;
    Freetype ListOf(int i) => new((_state[i] >> ListShift) & ListMask);
    int AllocOrderOf(int i) => ((_state[i] >> AllocOrderShift) & 0xF) - 1;
    int AllocMtOf(int i) => _state[i] >> AllocMtShift;
    void SetFree(int i, int order, Freetype list) => _state[i] = (ushort)((_state[i] & ~0x1FF) | (order + 1) | (list.Index << ListShift));
    void ClearFree(int i) => _state[i] = (ushort)(_state[i] & ~0x1FF);

    /// <summary>Bytes of model state for this zone: the per-page array, the pageblock types and the free-head links.</summary>
    public long StateBytes => (long)_state.Length * 2 + _pageblockMt.Length + _links.Bytes;
    readonly byte[] _pageblockMt;
    readonly int[,] _head, _tail;
    readonly long[] _nrFree;
    readonly long[] _freeByType = new long[Freetype.Count];
    public long FreePages { get; private set; }
    /// <summary>Free pages on one freetype's lists.</summary>
    public long FreePagesOfFreetype(Freetype ft) => _freeByType[ft.Index];
    /// <summary>Free pages on a migratetype's lists, every flag (<c>nr_free_highatomic</c>, <c>NR_FREE_CMA_PAGES</c>, …).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long FreePagesOfType(int mt)
    {
        long n = 0;
        for (int f = 0; f < Freetype.Flags; f++) n += _freeByType[Freetype.Make(mt, f).Index];
        return n;
    }
    /// <summary>The events emitted, in order, while <see cref="RecordEvents"/> is on (tests; off for long replays).</summary>
    public List<AllocatorEvent> Events { get; } = new();
    public bool RecordEvents { get; set; } = true;
    /// <summary>Emitted events by kind (<see cref="AllocatorEventKind"/>), always counted.</summary>
    public long[] EventCounts { get; } = new long[Enum.GetValues<AllocatorEventKind>().Length];
    /// <summary><c>mm_page_alloc_extfrag</c> events with <c>change_ownership=1</c>.</summary>
    public long ExtfragChangedOwnership { get; private set; }
    /// <summary><c>mm_page_alloc_zone_locked</c> events with <c>percpu_refill=1</c>.</summary>
    public long ZoneLockedRefills { get; private set; }

    internal void Emit(in AllocatorEvent e)
    {
        EventCounts[(int)e.Kind]++;
        if (e.Kind == AllocatorEventKind.Extfrag && e.ChangeOwnership) ExtfragChangedOwnership++;
        if (e.Kind == AllocatorEventKind.ZoneLocked && e.PercpuRefill) ZoneLockedRefills++;
        if (RecordEvents) Events.Add(e);
    }

    public BuddyZone(string name, long startPfn, long pages, BuddyOptions? options = null)
    {
        Options = options ?? new BuddyOptions();
        _maxOrder = Options.MaxPageOrder;
        _pbOrder = Options.PageblockOrder;
        if (pages <= 0 || pages > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(pages));
        Name = name; StartPfn = startPfn; Pages = pages;
        int n = (int)pages;
        if (_maxOrder > 14 || Freetype.Count > ListMask + 1) throw new ArgumentOutOfRangeException(nameof(options), "page state holds orders ≤ 14 and ≤ 32 lists");
        _state = new ushort[n];
        _pageblockMt = new byte[(n >> _pbOrder) + 1];
        Array.Fill(_pageblockMt, (byte)Migratetype.Movable);
        _head = new int[_maxOrder + 1, Freetype.Count];
        _tail = new int[_maxOrder + 1, Freetype.Count];
        for (int o = 0; o <= _maxOrder; o++) for (int t = 0; t < Freetype.Count; t++) _head[o, t] = _tail[o, t] = -1;
        _nrFree = new long[_maxOrder + 1];
    }

    int Idx(long pfn) => (int)(pfn - StartPfn);
    /// <summary>Is <paramref name="pfn"/> one of this zone's pages?</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool InZone(long pfn) => pfn >= StartPfn && pfn < StartPfn + Pages;

    /// <summary>The pageblock's migratetype bits (its freetype without the flag).</summary>
    public int PageblockMigratetype(long pfn) => PageblockFreetype(pfn).Mt;
    /// <summary>Sets the migratetype bits, keeping the pageblock's flag (<c>PB_nonsensitive</c> / unmapped).</summary>
    public void SetPageblockMigratetype(long pfn, int mt) =>
        SetPageblockFreetype(pfn, PageblockFreetype(pfn).WithMigratetype(mt));
    /// <summary><c>get_pfnblock_freetype()</c>: migratetype and flag.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Freetype PageblockFreetype(long pfn) => new(_pageblockMt[Idx(pfn) >> _pbOrder]);
    public void SetPageblockFreetype(long pfn, Freetype ft) => _pageblockMt[Idx(pfn) >> _pbOrder] = (byte)ft.Index;
    public long NrFree(int order) => _nrFree[order];
    public bool IsFreeHead(long pfn, out int order) { order = InZone(pfn) ? FreeOrderOf(Idx(pfn)) : -1; return order >= 0; }

    /// <summary>Every free block: head pfn and order.</summary>
    public IEnumerable<(long Pfn, int Order)> FreeBlocks()
    {
        for (int o = 0; o <= _maxOrder; o++)
            for (int t = 0; t < Freetype.Count; t++)
                for (int i = _head[o, t]; i >= 0; i = _links.Next(i)) yield return (StartPfn + i, o);
    }

    /// <summary>Free blocks on <c>free_list[ft]</c> at <paramref name="order"/>, head first.</summary>
    public List<long> FreeList(int order, Freetype ft)
    {
        var l = new List<long>();
        for (int i = _head[order, ft.Index]; i >= 0; i = _links.Next(i)) l.Add(StartPfn + i);
        return l;
    }

    void AddToFreeList(int i, int order, Freetype ft, bool tail)
    {
        SetFree(i, order, ft);
        if (tail)
        {
            int t = _tail[order, ft.Index];
            _links.Add(i, t, -1);
            if (t >= 0) _links.SetNext(t, i); else _head[order, ft.Index] = i;
            _tail[order, ft.Index] = i;
        }
        else
        {
            int h = _head[order, ft.Index];
            _links.Add(i, -1, h);
            if (h >= 0) _links.SetPrev(h, i); else _tail[order, ft.Index] = i;
            _head[order, ft.Index] = i;
        }
        _nrFree[order]++;
        FreePages += 1L << order;
        _freeByType[ft.Index] += 1L << order;
    }

    void DelFromFreeList(int i)
    {
        int order = FreeOrderOf(i);
        var ft = ListOf(i);
        int prev = _links.Prev(i), next = _links.Next(i);
        if (prev >= 0) _links.SetNext(prev, next); else _head[order, ft.Index] = next;
        if (next >= 0) _links.SetPrev(next, prev); else _tail[order, ft.Index] = prev;
        _links.Remove(i);
        ClearFree(i);
        _nrFree[order]--;
        FreePages -= 1L << order;
        _freeByType[ft.Index] -= 1L << order;
    }

    /// <summary><c>move_to_free_list()</c>: to the tail of another type's list.</summary>
    void MoveToFreeList(int i, Freetype ft)
    {
        int order = FreeOrderOf(i);
        DelFromFreeList(i);
        AddToFreeList(i, order, ft, tail: true);
    }

    /// <summary>
    /// Seeds the zone with a free block (boot: <c>__free_pages_core</c> → tail insertion, <c>FPI_TO_TAIL</c>). The block must
    /// be naturally aligned; its pageblocks are labelled <paramref name="ft"/>.
    /// </summary>
    public void AddFreeBlock(long pfn, int order, Freetype ft)
    {
        if ((pfn & ((1L << order) - 1)) != 0 || !InZone(pfn) || !InZone(pfn + (1L << order) - 1)) throw new ArgumentException("block not aligned or outside the zone");
        SetPageblockRange(Idx(pfn), order, ft);
        AddToFreeList(Idx(pfn), order, ft, tail: true);
    }

    /// <summary><c>expand()</c>: splits a block of <paramref name="high"/> down to <paramref name="low"/>, putting each upper half
    /// at the head of <paramref name="ft"/>'s list; the lowest part is the caller's.</summary>
    void Expand(int i, int low, int high, Freetype ft)
    {
        while (high > low)
        {
            high--;
            AddToFreeList(i + (1 << high), high, ft, tail: false);
        }
    }

    /// <summary><c>__rmqueue_smallest()</c>: the head block of the first non-empty order of <paramref name="ft"/>, split down.</summary>
    public long RmqueueSmallest(int order, Freetype ft, bool emitEvent = true, bool refill = false)
    {
        for (int o = order; o <= _maxOrder; o++)
        {
            int i = _head[o, ft.Index];
            if (i < 0) continue;
            DelFromFreeList(i);
            Expand(i, order, o, ft);
            MarkAllocated(i, order, ft);
            // percpu_refill is computed inside __rmqueue_smallest() as "pcp-cacheable order and pcp type", not whether
            // this removal is a refill (docs/model.md §2).
            if (emitEvent) Emit(new AllocatorEvent(AllocatorEventKind.ZoneLocked, StartPfn + i, order, ft,
                PercpuRefill: PerCpuPages.AllowedOrder(order) && ft.Mt < Migratetype.PcpTypes));
            return StartPfn + i;
        }
        return -1;
    }

    void MarkAllocated(int i, int order, Freetype ft) =>
        _state[i] = (ushort)((_state[i] & 0x1FF) | ((order + 1) << AllocOrderShift) | (ft.Mt << AllocMtShift));
    void ClearAllocated(int i) => _state[i] = (ushort)(_state[i] & 0x1FF);

    /// <summary><c>__rmqueue()</c> without CMA: the requested type, then (v6.15+) claim, then steal unless NOFRAGMENT.</summary>
    public long Rmqueue(int order, Freetype ft, bool noFragment = false, bool refill = false, bool mayConvert = false)
    {
        long pfn = RmqueueSmallest(order, ft, refill: refill);
        if (pfn >= 0) return pfn;
        if (mayConvert && Options.ConvertAt == ConvertPoint.BeforeClaim && (pfn = RmqueueConvert(order, ft, out _)) >= 0) return pfn;
        if (Options.Fallback == FallbackRules.Legacy610) return RmqueueFallbackLegacy(order, ft, noFragment, movesOnly: false);
        if (Options.Fallback == FallbackRules.Legacy69)
        {
            // __rmqueue(): retry the requested type after each successful fallback move.
            while (RmqueueFallbackLegacy(order, ft, noFragment, movesOnly: true) >= 0)
            {
                pfn = RmqueueSmallest(order, ft, refill: refill);
                if (pfn >= 0) return pfn;
            }
            return -1;
        }
        pfn = RmqueueClaim(order, ft, noFragment);
        if (pfn >= 0) return pfn;
        if (mayConvert && Options.ConvertAt == ConvertPoint.BeforeSteal && (pfn = RmqueueConvert(order, ft, out _)) >= 0) return pfn;
        return noFragment ? -1 : RmqueueSteal(order, ft);
    }

    /// <summary>Pageblocks in the zone (the last may be partial).</summary>
    public int PageblockCount => _pageblockMt.Length;

    /// <summary>Fraction of pageblocks [<paramref name="first"/>, <paramref name="end"/>) whose freetype carries flag 1
    /// (sensitive / unmapped): one cell of the physical-memory map.</summary>
    public double FlaggedFraction(int first, int end)
    {
        int n = 0, flagged = 0;
        for (int i = Math.Max(first, 0); i < Math.Min(end, _pageblockMt.Length); i++) { n++; if (new Freetype(_pageblockMt[i]).Flag == 1) flagged++; }
        return n == 0 ? 0 : (double)flagged / n;
    }

    /// <summary>Pageblocks whose freetype flag <see cref="RmqueueConvert"/> changed, by the flag they took.</summary>
    public long[] ConvertedPageblocks { get; } = new long[Freetype.Flags];

    /// <summary>
    /// <c>__rmqueue_asi()</c> (Sep 2025 series, patch 18/21) and the <c>__GFP_UNMAPPED</c> block conversion: take a block of
    /// max(<paramref name="order"/>, pageblock_order) from the same migratetype with the other flag through the normal
    /// <c>__rmqueue()</c> (so its fallbacks apply), set every covered pageblock to <paramref name="toFt"/>, return the unused
    /// part to <paramref name="toFt"/>'s lists (the buddy of size 2^i at page + 2^i for i = order … alloc_order − 1) and
    /// hand out the first 2^order pages. The caller pays for the mapping change (zeroing and mapping, or unmapping and a
    /// flush). Returns −1 when the other freetype has no block either.
    /// </summary>
    public long RmqueueConvert(int order, Freetype toFt, out int allocOrder)
    {
        allocOrder = Math.Max(order, _pbOrder);
        var fromFt = toFt.Opposite;
        if (!fromFt.ExistsIn(Options.Freetypes) || !toFt.ExistsIn(Options.Freetypes)) return -1;
        long pfn = Rmqueue(allocOrder, fromFt);
        if (pfn < 0) return -1;
        int i = Idx(pfn);
        SetPageblockRange(i, allocOrder, toFt);
        for (int k = order; k < allocOrder; k++) FreeOnePage(pfn + (1L << k), k, toFt);
        MarkAllocated(i, order, toFt);
        ConvertedPageblocks[toFt.Flag] += 1L << (allocOrder - _pbOrder);
        Emit(new AllocatorEvent(AllocatorEventKind.FreetypeChange, pfn, allocOrder, toFt, FallbackFreetype: fromFt));
        OnConvert?.Invoke(pfn, allocOrder, toFt);
        return pfn;
    }

    /// <summary>Called after every freetype change with the first pfn, the order of the changed block and the new freetype.</summary>
    public Action<long, int, Freetype>? OnConvert { get; set; }

    /// <summary>Changes one whole free pageblock (taken from the other flag through <c>__rmqueue()</c>) to
    /// <paramref name="toFt"/> and frees it there: flips batched ahead of demand and unmapped-pool top-ups.</summary>
    public long ConvertFreePageblock(Freetype toFt)
    {
        var fromFt = toFt.Opposite;
        if (!fromFt.ExistsIn(Options.Freetypes) || !toFt.ExistsIn(Options.Freetypes)) return -1;
        long pfn = Rmqueue(_pbOrder, fromFt);
        if (pfn < 0) return -1;
        SetPageblockRange(Idx(pfn), _pbOrder, toFt);
        FreeOnePage(pfn, _pbOrder, toFt);
        ConvertedPageblocks[toFt.Flag]++;
        Emit(new AllocatorEvent(AllocatorEventKind.FreetypeChange, pfn, _pbOrder, toFt, FallbackFreetype: fromFt));
        OnConvert?.Invoke(pfn, _pbOrder, toFt);
        return pfn;
    }

    /// <summary>Gives wholly free pageblocks of <paramref name="fromFt"/> (blocks of pageblock order or more on its lists)
    /// back to <paramref name="toFt"/>, keeping the first <paramref name="keepPageblocks"/>: the unmapped pool returning
    /// idle blocks to the direct map. Returns the pageblocks returned.</summary>
    public long ReturnFreePageblocks(Freetype fromFt, Freetype toFt, long keepPageblocks)
    {
        long kept = 0, returned = 0;
        for (int o = _pbOrder; o <= _maxOrder; o++)
        {
            int i = _head[o, fromFt.Index];
            while (i >= 0)
            {
                int next = _links.Next(i);
                long blocks = 1L << (o - _pbOrder);
                if (kept + blocks <= keepPageblocks) { kept += blocks; i = next; continue; }
                DelFromFreeList(i);
                SetPageblockRange(i, o, toFt);
                FreeOnePage(StartPfn + i, o, toFt);
                ConvertedPageblocks[toFt.Flag] += blocks;
                Emit(new AllocatorEvent(AllocatorEventKind.FreetypeChange, StartPfn + i, o, toFt, FallbackFreetype: fromFt));
                OnConvert?.Invoke(StartPfn + i, o, toFt);
                returned += blocks;
                i = next;
            }
        }
        return returned;
    }

    /// <summary>
    /// <c>__free_one_page()</c>: merges with free buddies of the same order; above pageblock order two blocks of
    /// different types merge only if both types are mergeable (the buddy's pageblocks take the freeing type). The
    /// result goes to the head of its list, or the tail when <c>buddy_merge_likely()</c> (the next-order buddy is free)
    /// or <paramref name="toTail"/> (<c>FPI_TO_TAIL</c>).
    /// </summary>
    public void FreeOnePage(long pfn, int order, Freetype ft, bool toTail = false)
    {
        int i = Idx(pfn);
        ClearAllocated(i);
        long buddyPfn = pfn;
        while (order < _maxOrder)
        {
            buddyPfn = pfn ^ (1L << order);
            if (!InZone(buddyPfn)) break;
            int b = Idx(buddyPfn);
            if (FreeOrderOf(b) != order) break;
            if (order >= _pbOrder)
            {
                var buddyFt = new Freetype(_pageblockMt[b >> _pbOrder]);
                if (!Freetype.CanMerge(ft, buddyFt)) break;
                if (buddyFt != ft) SetPageblockRange(b, order, ft);
            }
            DelFromFreeList(b);
            pfn &= buddyPfn;
            order++;
        }
        i = Idx(pfn);
        bool tail = toTail || BuddyMergeLikely(pfn, pfn ^ (1L << order), order);
        AddToFreeList(i, order, ft, tail);
    }

    /// <summary><c>buddy_merge_likely()</c>: is the buddy of the next-larger block free (so this one may merge soon)?</summary>
    bool BuddyMergeLikely(long pfn, long buddyPfn, int order)
    {
        if (order >= _maxOrder - 1) return false;
        long higher = buddyPfn & pfn;
        long higherBuddy = higher ^ (1L << (order + 1));
        return InZone(higherBuddy) && FreeOrderOf(Idx(higherBuddy)) == order + 1;
    }

    /// <summary>Pages in pageblocks reserved for high-order atomic allocations (<c>nr_reserved_highatomic</c>).</summary>
    public long ReservedHighAtomic { get; private set; }

    /// <summary>
    /// <c>reserve_highatomic_pageblock()</c>: after a successful high-order ALLOC_HIGHATOMIC allocation in the slow path,
    /// turn the page's pageblock (or, for a larger block, every pageblock it covers) into a HIGHATOMIC reserve — at most
    /// 1% of <paramref name="managed"/> rounded up to a whole pageblock, and only from a mergeable type. The pageblock's
    /// free blocks move to the HIGHATOMIC lists.
    /// </summary>
    public bool ReserveHighAtomic(long pfn, int order, long managed)
    {
        long pb = 1L << _pbOrder;
        long max = (managed / 100 + pb - 1) / pb * pb;
        if (ReservedHighAtomic >= max) return false;
        var ft = PageblockFreetype(pfn);
        if (!Migratetype.IsMergeable(ft.Mt)) return false;
        var highAtomic = Freetype.Make(Migratetype.HighAtomic, ft.Flag);
        if (order < _pbOrder)
        {
            int start = Idx(pfn) >> _pbOrder << _pbOrder;
            if (start + pb > Pages) return false;
            MoveFreeBlocksOfPageblock(start, highAtomic);
            _pageblockMt[start >> _pbOrder] = (byte)highAtomic.Index;
            ReservedHighAtomic += pb;
        }
        else
        {
            SetPageblockRange(Idx(pfn), order, highAtomic);
            ReservedHighAtomic += 1L << order;
        }
        return true;
    }

    /// <summary>
    /// <c>__zone_watermark_ok()</c>: free pages minus what the request may not use (the order's own pages, HIGHATOMIC
    /// reserves without ALLOC_RESERVES, CMA without ALLOC_CMA) must exceed the mark — halved for MIN_RESERVE, a further
    /// quarter off with NON_BLOCK, halved for OOM — plus the lowmem reserve; a high-order request also needs a free block
    /// of at least its order on a list it may use.
    /// </summary>
    public bool WatermarkOk(int order, long mark, long lowmemReserve, AllocFlags flags)
    {
        long free = FreePages - ((1L << order) - 1);
        if ((flags & AllocFlags.Reserves) == 0) free -= FreePagesOfType(Migratetype.HighAtomic);
        if ((flags & AllocFlags.Cma) == 0) free -= FreePagesOfType(Migratetype.Cma);
        long min = mark;
        if ((flags & AllocFlags.Reserves) != 0)
        {
            if ((flags & AllocFlags.MinReserve) != 0)
            {
                min -= min / 2;
                if ((flags & AllocFlags.NonBlock) != 0) min -= min / 4;
            }
            if ((flags & AllocFlags.Oom) != 0) min -= min / 2;
        }
        if (free <= min + lowmemReserve) return false;
        if (order == 0) return true;
        for (int o = order; o <= _maxOrder; o++)
        {
            if (_nrFree[o] == 0) continue;
            for (int f = 0; f < Freetype.Flags; f++)
            {
                for (int mt = 0; mt < Migratetype.PcpTypes; mt++) if (_head[o, Freetype.Make(mt, f).Index] >= 0) return true;
                if ((flags & AllocFlags.Cma) != 0 && _head[o, Freetype.Make(Migratetype.Cma, f).Index] >= 0) return true;
                if ((flags & (AllocFlags.HighAtomic | AllocFlags.Oom)) != 0 && _head[o, Freetype.Make(Migratetype.HighAtomic, f).Index] >= 0) return true;
            }
        }
        return false;
    }

    /// <summary>Counters and lists agree: every free head is on the list its entry says, nr_free and FreePages match.</summary>
    public List<string> Validate()
    {
        var problems = new List<string>();
        var seen = new long[_maxOrder + 1];
        long pages = 0;
        for (int o = 0; o <= _maxOrder; o++)
            for (int t = 0; t < Freetype.Count; t++)
            {
                int prev = -1;
                for (int i = _head[o, t]; i >= 0; i = _links.Next(i))
                {
                    if (FreeOrderOf(i) != o || ListOf(i).Index != t) problems.Add($"pfn {StartPfn + i}: on list ({o},{t}) but marked ({FreeOrderOf(i)},{ListOf(i).Index})");
                    if (_links.Prev(i) != prev) problems.Add($"pfn {StartPfn + i}: broken prev link");
                    if ((i & ((1 << o) - 1)) != 0) problems.Add($"pfn {StartPfn + i}: order-{o} block not aligned");
                    prev = i; seen[o]++; pages += 1L << o;
                }
                if (_tail[o, t] != prev) problems.Add($"list ({o},{t}): tail mismatch");
            }
        for (int o = 0; o <= _maxOrder; o++) if (seen[o] != _nrFree[o]) problems.Add($"order {o}: {seen[o]} on lists, nr_free {_nrFree[o]}");
        long heads = 0;
        foreach (long v in seen) heads += v;
        if (heads != _links.Count) problems.Add($"{_links.Count} link entries for {heads} free heads");
        if (pages != FreePages) problems.Add($"free pages {pages} on lists, counter {FreePages}");
        long byType = 0;
        for (int t = 0; t < Freetype.Count; t++) byType += _freeByType[t];
        if (byType != FreePages) problems.Add($"free pages by type {byType}, counter {FreePages}");
        return problems;
    }
}
