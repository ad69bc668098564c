namespace AsiTrace.Model.Alloc;

/// <summary>The buddy allocator's fallbacks to other migratetypes, by kernel era (docs/model.md §1.7): the v6.15+
/// <c>__rmqueue_claim()</c> / <c>__rmqueue_steal()</c> and the older <c>__rmqueue_fallback()</c>.</summary>
public sealed partial class BuddyZone
{
    /// <summary>
    /// ≤ v6.14 <c>__rmqueue_fallback()</c>: scan orders from the largest down to the minimum; the first order with a
    /// non-empty fallback list wins, except that a MOVABLE request that may not steal the whole block restarts from the
    /// smallest order ("find_smallest"). Then <c>steal_suitable_fallback()</c> of that era, and the extfrag event.
    /// With <paramref name="movesOnly"/> (≤ v6.9) the block is only moved to the requested type's lists and the pfn of
    /// the moved block is returned for the caller's retry; otherwise (v6.10–6.14) the allocated pfn is returned.
    /// </summary>
    long RmqueueFallbackLegacy(int order, Freetype startFt, bool noFragment, bool movesOnly)
    {
        int minOrder = noFragment ? _pbOrder : order;
        int current;
        Freetype? fallback = null;
        bool canSteal = false;
        for (current = _maxOrder; current >= minOrder; current--)
        {
            fallback = FindFallback(current, startFt, out canSteal);
            if (fallback is null) continue;
            if (!canSteal && startFt.Mt == Migratetype.Movable && current > order)
            {
                for (current = order; current <= _maxOrder; current++)
                {
                    fallback = FindFallback(current, startFt, out canSteal);
                    if (fallback is not null) break;
                }
            }
            break;
        }
        if (fallback is not { } fb || current < minOrder || current > _maxOrder) return -1;
        int i = _head[current, fb.Index];
        long pfn = movesOnly ? StealMove69(i, current, startFt, canSteal) : Steal610(i, current, order, startFt, canSteal);
        if (pfn < 0) return -1;
        Emit(new AllocatorEvent(AllocatorEventKind.Extfrag, movesOnly ? StartPfn + i : pfn, order, startFt, current, fb,
            ChangeOwnership: PageblockMigratetype(movesOnly ? StartPfn + i : pfn) == startFt.Mt));
        return pfn;
    }

    /// <summary>Legacy <c>find_suitable_fallback(only_stealable = false)</c>: the first non-empty fallback list; can_steal
    /// is <c>can_steal_fallback(order, mt)</c> (the same test as today's <c>should_try_claim_block</c>).</summary>
    Freetype? FindFallback(int current, Freetype startFt, out bool canSteal)
    {
        canSteal = false;
        if (_nrFree[current] == 0) return null;
        foreach (int f0 in Migratetype.Fallbacks(startFt.Mt))
        {
            if (FallbackFreetype(f0, startFt) is not { } f || _head[current, f.Index] < 0) continue;
            canSteal = ShouldTryClaimBlock(current, startFt);
            return f;
        }
        return null;
    }

    /// <summary>Counts free and movable-allocated pages of the pageblock holding index <paramref name="i"/>
    /// (<c>prep_move_freepages_block</c>); false when the block straddles the zone end.</summary>
    bool CountBlock(int i, out int pb, out long free, out long movable)
    {
        pb = i >> _pbOrder << _pbOrder;
        free = movable = 0;
        if (pb + (1 << _pbOrder) > Pages) return false;
        for (int p = pb; p < pb + (1 << _pbOrder);)
        {
            int fo = FreeOrderOf(p);
            if (fo >= 0) { free += 1L << fo; p += 1 << fo; continue; }
            int ao = AllocOrderOf(p);
            if (ao >= 0) { if (AllocMtOf(p) == Migratetype.Movable) movable += 1L << ao; p += 1 << ao; continue; }
            p++;
        }
        return true;
    }

    long Alike(Freetype startFt, Freetype blockFt, long free, long movable) =>
        startFt.Mt == Migratetype.Movable ? movable : blockFt.Mt == Migratetype.Movable ? (1L << _pbOrder) - (free + movable) : 0;

    /// <summary>The fallback migratetype <paramref name="fallbackMt"/> with the requesting freetype's flag, or −1 where that
    /// freetype has no lists (only UNMOVABLE is ever unmapped).</summary>
    Freetype? FallbackFreetype(int fallbackMt, Freetype startFt)
    {
        var f = Freetype.Make(fallbackMt, startFt.Flag);
        return f.ExistsIn(Options.Freetypes) ? f : null;
    }

    /// <summary><c>change_pageblock_range()</c>: labels every pageblock a block of <paramref name="order"/> covers.</summary>
    void SetPageblockRange(int i, int order, Freetype ft)
    {
        for (int p = i; p < i + (1 << Math.Max(order, _pbOrder)); p += 1 << _pbOrder) _pageblockMt[p >> _pbOrder] = (byte)ft.Index;
    }

    /// <summary>A fallback block of pageblock order or more is claimed whole: relabelled and split onto the requested
    /// type's lists (<c>try_to_claim_block()</c> and the v6.10–v6.14 <c>steal_suitable_fallback()</c> alike).</summary>
    long ClaimLargeBlock(int i, int current, int order, Freetype startFt)
    {
        DelFromFreeList(i);
        SetPageblockRange(i, current, startFt);
        Expand(i, order, current, startFt);
        MarkAllocated(i, order, startFt);
        return StartPfn + i;
    }

    /// <summary><c>move_freepages_block()</c>: every free block of the pageblock to the tail of <paramref name="toFt"/>'s lists.</summary>
    void MoveFreeBlocksOfPageblock(int pb, Freetype toFt)
    {
        for (int p = pb; p < pb + (1 << _pbOrder);)
        {
            int o = FreeOrderOf(p);
            if (o >= 0) { MoveToFreeList(p, toFt); p += 1 << o; }
            else p++;
        }
    }

    /// <summary>v6.10–v6.14 <c>steal_suitable_fallback()</c>.</summary>
    long Steal610(int i, int current, int order, Freetype startFt, bool wholeBlock)
    {
        var blockFt = new Freetype(_pageblockMt[i >> _pbOrder]);
        if (current >= _pbOrder) return ClaimLargeBlock(i, current, order, startFt);
        if (wholeBlock && CountBlock(i, out int pb, out long free, out long movable)
            && free + Alike(startFt, blockFt, free, movable) >= 1L << (_pbOrder - 1))
        {
            MoveFreeBlocksOfPageblock(pb, startFt);
            _pageblockMt[pb >> _pbOrder] = (byte)startFt.Index;
            return RmqueueSmallest(order, startFt);
        }
        // single_page: page_del_and_expand() keeping the block's type.
        DelFromFreeList(i);
        Expand(i, order, current, blockFt);
        MarkAllocated(i, order, startFt);
        return StartPfn + i;
    }

    /// <summary>≤ v6.9 <c>steal_suitable_fallback()</c>: never allocates; moves free memory to the requested type's lists.</summary>
    long StealMove69(int i, int current, Freetype startFt, bool wholeBlock)
    {
        var oldFt = new Freetype(_pageblockMt[i >> _pbOrder]);
        if (oldFt.Mt != Migratetype.HighAtomic)
        {
            if (current >= _pbOrder) SetPageblockRange(i, current, startFt);
            else if (wholeBlock && CountBlock(i, out int pb, out long free, out long movable))
            {
                MoveFreeBlocksOfPageblock(pb, startFt);
                if (free + Alike(startFt, oldFt, free, movable) >= 1L << (_pbOrder - 1)) _pageblockMt[pb >> _pbOrder] = (byte)startFt.Index;
                return StartPfn + i;
            }
        }
        // single_page: move just this block to the requested type's list.
        MoveToFreeList(i, startFt);
        return StartPfn + i;
    }

    /// <summary><c>should_try_claim_block()</c>.</summary>
    bool ShouldTryClaimBlock(int order, Freetype startFt) =>
        order >= _pbOrder || order >= _pbOrder / 2 || startFt.Mt is Migratetype.Unmovable or Migratetype.Reclaimable;

    /// <summary><c>__rmqueue_claim()</c>: largest fallback block first; claim its pageblock if the claim rules allow.</summary>
    long RmqueueClaim(int order, Freetype startFt, bool noFragment)
    {
        int minOrder = noFragment && order < _pbOrder ? _pbOrder : order;
        for (int current = _maxOrder; current >= minOrder; current--)
        {
            // find_suitable_fallback(claimable = true)
            if (!ShouldTryClaimBlock(current, startFt)) break;
            if (_nrFree[current] == 0) continue;
            Freetype? fallback = null;
            foreach (int f0 in Migratetype.Fallbacks(startFt.Mt))
                if (FallbackFreetype(f0, startFt) is { } f && _head[current, f.Index] >= 0) { fallback = f; break; }
            if (fallback is not { } fb) continue;
            int i = _head[current, fb.Index];
            long pfn = TryToClaimBlock(i, current, order, startFt, fb);
            if (pfn >= 0)
            {
                Emit(new AllocatorEvent(AllocatorEventKind.Extfrag, pfn, order, startFt, current, fb,
                    ChangeOwnership: PageblockMigratetype(pfn) == startFt.Mt));
                return pfn;
            }
        }
        return -1;
    }

    /// <summary><c>try_to_claim_block()</c>.</summary>
    long TryToClaimBlock(int i, int current, int order, Freetype startFt, Freetype blockFt)
    {
        if (current >= _pbOrder) return ClaimLargeBlock(i, current, order, startFt);
        // A pageblock straddling the zone end cannot be claimed.
        if (!CountBlock(i, out int pb, out long free, out long movable)) return -1;
        if (free + Alike(startFt, blockFt, free, movable) < 1L << (_pbOrder - 1)) return -1;
        MoveFreeBlocksOfPageblock(pb, startFt);
        _pageblockMt[pb >> _pbOrder] = (byte)startFt.Index;
        return RmqueueSmallest(order, startFt);
    }

    /// <summary><c>__rmqueue_steal()</c>: smallest fallback block; remainders stay on the fallback type; no relabel.</summary>
    long RmqueueSteal(int order, Freetype startFt)
    {
        for (int current = order; current <= _maxOrder; current++)
        {
            foreach (int f0 in Migratetype.Fallbacks(startFt.Mt))
            {
                if (FallbackFreetype(f0, startFt) is not { } f) continue;
                int i = _head[current, f.Index];
                if (i < 0) continue;
                DelFromFreeList(i);
                Expand(i, order, current, f);
                MarkAllocated(i, order, startFt);
                Emit(new AllocatorEvent(AllocatorEventKind.Extfrag, StartPfn + i, order, startFt, current, f,
                    ChangeOwnership: PageblockMigratetype(StartPfn + i) == startFt.Mt));
                return StartPfn + i;
            }
        }
        return -1;
    }
}
