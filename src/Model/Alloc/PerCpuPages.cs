using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Alloc;

/// <summary>pcp rules by kernel era (docs/model.md §1.9, History).</summary>
public enum PcpRules
{
    /// <summary>v6.7+: high_min/high_max auto-tuning, refills scaled by alloc_factor, free_count, decay_pcp_high().</summary>
    V67,
    /// <summary>v5.18–v6.6: as <see cref="V514"/>, plus <c>free_high</c> (f26b3fa04611): freeing a page of order 1–3
    /// while free_factor is non-zero (frees without allocations in between) drains the whole pcp.</summary>
    V518,
    /// <summary>v5.14–v5.17: orders 0–3 and THP cached; fixed high (zone_highsize); refill = batch (max(batch &gt;&gt; order, 2));
    /// frees drain batch &lt;&lt; free_factor pages (doubling while frees come without allocations, halved by every
    /// allocation from the pcp), within [batch, high − batch].</summary>
    V514,
    /// <summary>≤ v5.13: order 0 only; fixed high (6 × batch); refill and drain exactly batch pages.</summary>
    Legacy,
}

/// <summary>Zone state the pcp code consults (<c>ZONE_BELOW_HIGH</c>, <c>ZONE_RECLAIM_ACTIVE</c>).</summary>
public sealed class ZoneFlags
{
    public bool BelowHigh { get; set; }
    public bool ReclaimActive { get; set; }
}

/// <summary>
/// One CPU's page lists for one zone (<c>struct per_cpu_pages</c>; docs/model.md §1.9, v6.7+ rules):
/// 12 low-order lists (3 types × orders 0–3) plus 2 THP lists, <c>nr_pcp_alloc()</c> refills that double while
/// order-0 allocations come without frees (63, 126, … 2016 pages with batch 63), <c>free_frozen_page_commit()</c> with
/// <c>nr_pcp_high()</c>/<c>nr_pcp_free()</c> auto-tuning, and <c>free_pcppages_bulk()</c> draining the coldest pages
/// round-robin, emitting <c>mm_page_pcpu_drain</c>.
/// </summary>
public sealed class PerCpuPages
{
    /// <summary>Lists per freetype flag (12 low-order + 2 THP); with freetypes the lists double (pindex =
    /// NR_PCP_LISTS_PER_SENSITIVITY × flag + ordinary pindex), so 28 in all — the second half stays empty without ASI.</summary>
    public const int ListsPerFlag = 14, NrPcpLists = ListsPerFlag * Freetype.Flags, ScaleMax = 5, CostlyOrder = 3, ThpOrder = 9;
    const int PrevFreeHighOrder = 1, FreeHighBatch = 2;

    readonly BuddyZone _zone;
    readonly ZoneFlags _flags;
    readonly PfnDeque[] _lists = new PfnDeque[NrPcpLists];
    public int Cpu { get; }
    public int Count { get; private set; }
    public int High { get; private set; }
    public int HighMin { get; }
    public int HighMax { get; }
    public int Batch { get; }
    public int FreeCount { get; private set; }
    public int AllocFactor { get; private set; }
    int _pcpFlags;
    /// <summary>Sizes (in blocks) of the refills done, for comparison with the traces' runs of percpu_refill events.</summary>
    public List<int> Refills { get; } = new();
    /// <summary>Pages drained to the buddy because a free took the count to high, and by <see cref="Decay"/>.</summary>
    public long DrainedOnFree { get; private set; }
    /// <summary>Pages taken from the buddy by <c>rmqueue_bulk()</c> refills.</summary>
    public long RefilledPages { get; private set; }
    public long DrainedByDecay { get; private set; }

    public PcpRules Rules { get; }
    /// <summary>Ablation (docs/model.md §8.3): one set of lists for both freetype flags, as if the series had not
    /// doubled them — sensitive and nonsensitive pages then mix in a CPU's cache.</summary>
    public bool SharedAcrossFlags { get; init; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int ListIndex(Freetype ft, int order) => Pindex(SharedAcrossFlags ? Freetype.OfMigratetype(ft.Mt) : ft, order);
    int _freeFactor;

    /// <summary>v6.7+: <c>free_high</c> needs <c>free_count</c> ≥ batch + high_min / 2 (v6.16+) or only ≥ batch (before);
    /// see <see cref="PageAllocatorOptions.FreeHighAboveHalfHighMin"/>.</summary>
    readonly bool _freeHighAboveHalfHighMin;

    public PerCpuPages(BuddyZone zone, ZoneFlags flags, int cpu, int batch, int high, int highMin, int highMax, PcpRules rules = PcpRules.V67,
        bool freeHighAboveHalfHighMin = true)
    {
        _zone = zone; _flags = flags; Cpu = cpu; Rules = rules; _freeHighAboveHalfHighMin = freeHighAboveHalfHighMin;
        if (rules != PcpRules.V67) { highMin = highMax = high; }
        Batch = batch; High = high; HighMin = highMin; HighMax = highMax;
        for (int i = 0; i < NrPcpLists; i++) _lists[i] = new PfnDeque();
    }

    /// <summary>Puts a page the pcp list held before the replay began at the cold end of its list.</summary>
    public void Seed(long pfn, int order, Freetype ft)
    {
        _lists[ListIndex(ft, order)].AddLast(pfn);
        Count += 1 << order;
    }

    /// <summary><c>pcp_allowed_order()</c> (v5.14+).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllowedOrder(int order) => order <= CostlyOrder || order == ThpOrder;
    /// <summary>Does this pcp cache <paramref name="order"/> under its era's rules (only order 0 before v5.14)?</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Allows(int order) => Rules == PcpRules.Legacy ? order == 0 : AllowedOrder(order);

    /// <summary><c>order_to_pindex()</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Pindex(Freetype ft, int order)
    {
        int mt = ft.Mt;
        return ft.Flag * ListsPerFlag + (order > CostlyOrder ? 12 + (mt == Migratetype.Movable ? 1 : 0) : 3 * order + mt);
    }

    /// <summary>The order of the blocks on list <paramref name="pindex"/>.</summary>
    public static int PindexOrder(int pindex) => pindex % ListsPerFlag >= 12 ? ThpOrder : pindex % ListsPerFlag / 3;
    /// <summary>The freetype of list <paramref name="pindex"/> (the THP list of non-movable types reports UNMOVABLE).</summary>
    public static Freetype PindexFreetype(int pindex)
    {
        int p = pindex % ListsPerFlag;
        int mt = p >= 12 ? (p == 13 ? Migratetype.Movable : Migratetype.Unmovable) : p % 3;
        return Freetype.Make(mt, pindex / ListsPerFlag);
    }
    static int PindexToOrder(int pindex) => PindexOrder(pindex);

    /// <summary><c>rmqueue_pcplist()</c>: the first (hottest) page of the list, refilled with <c>rmqueue_bulk()</c> when empty.</summary>
    public long Alloc(int order, Freetype ft, bool noFragment = false, bool mayConvert = false)
    {
        // rmqueue_pcplist(): "On allocation, reduce the number of pages that are batch freed" — free_count (v6.7+),
        // free_factor (v5.14–v6.6), on every allocation from the pcp, not only on refills.
        FreeCount >>= 1;
        _freeFactor >>= 1;
        var list = _lists[ListIndex(ft, order)];
        if (list.Count == 0)
        {
            int batch = NrPcpAlloc(order);
            int got = 0;
            for (int k = 0; k < batch; k++)
            {
                // rmqueue_bulk(): each block via __rmqueue, appended at the tail.
                long pfn = _zone.Rmqueue(order, ft, noFragment, refill: true, mayConvert: mayConvert);
                if (pfn < 0) break;
                list.AddLast(pfn);
                got++;
            }
            if (_zone.RecordEvents) Refills.Add(got);
            RefilledPages += (long)got << order;
            Count += got << order;
            if (list.Count == 0) return -1;
        }
        long page = list.RemoveFirst();
        Count -= 1 << order;
        return page;
    }

    /// <summary><c>nr_pcp_alloc()</c>.</summary>
    int NrPcpAlloc(int order)
    {
        if (Rules != PcpRules.V67)
        {
            // v5.14–v6.6 __rmqueue_pcplist(): batch, scaled to the order; ≤ v5.13: batch.
            int b = Batch;
            if (Rules is PcpRules.V514 or PcpRules.V518 && b > 1) b = Math.Max(b >> order, 2);
            return b;
        }
        int baseBatch = Batch;
        int high = High = Math.Clamp(High, HighMin, HighMax);
        if (high < baseBatch) return 1;
        int batch = order > 0 ? baseBatch : baseBatch << AllocFactor;
        if (HighMin != HighMax && !_flags.BelowHigh) high = High = Math.Min(high + batch, HighMax);
        if (order == 0)
        {
            int maxNrAlloc = Math.Max(high - Count - baseBatch, baseBatch);
            if (batch <= maxNrAlloc && AllocFactor < ScaleMax) AllocFactor++;
            batch = Math.Min(batch, maxNrAlloc);
        }
        if (batch > 1) batch = Math.Max(batch >> order, 2);
        return batch;
    }

    /// <summary><c>free_frozen_page_commit()</c>: to the head of its list; drains when the count reaches high.</summary>
    public void Free(long pfn, int order, Freetype ft)
    {
        if (Rules != PcpRules.V67) { FreeLegacy(pfn, order, ft); return; }
        AllocFactor >>= 1;
        int pindex = ListIndex(ft, order);
        _lists[pindex].AddFirst(pfn);
        Count += 1 << order;
        bool freeHigh = false;
        if (order > 0 && order <= CostlyOrder)
        {
            freeHigh = FreeCount >= (_freeHighAboveHalfHighMin ? Batch + HighMin / 2 : Batch) && (_pcpFlags & PrevFreeHighOrder) != 0
                && ((_pcpFlags & FreeHighBatch) == 0 || Count >= Batch);
            _pcpFlags |= PrevFreeHighOrder;
        }
        else _pcpFlags &= ~PrevFreeHighOrder;
        if (FreeCount < Batch << ScaleMax) FreeCount += 1 << order;
        int high = NrPcpHigh(freeHigh);
        if (Count >= high)
        {
            int before = Count;
            FreePcppagesBulk(NrPcpFree(high, freeHigh), pindex);
            DrainedOnFree += before - Count;
        }
    }

    /// <summary>Before v6.7 (<c>free_unref_page_commit()</c>): head insertion; when count reaches the fixed high, drain
    /// batch pages (≤ v5.13) or v5.14's <c>nr_pcp_free()</c>: batch &lt;&lt; free_factor clamped to [batch, high − batch],
    /// free_factor growing while frees come without allocations.</summary>
    void FreeLegacy(long pfn, int order, Freetype ft)
    {
        int pindex = ListIndex(ft, order);
        _lists[pindex].AddFirst(pfn);
        Count += 1 << order;
        // v5.18+ free_unref_page_commit(): free_high = free_factor && order && order <= PAGE_ALLOC_COSTLY_ORDER, and then
        // nr_pcp_high() is 0 and nr_pcp_free() is the whole count.
        bool freeHigh = Rules == PcpRules.V518 && _freeFactor > 0 && order > 0 && order <= CostlyOrder;
        // nr_pcp_high() (v5.14+): with reclaim active at most batch << 2 pages stay.
        int high = freeHigh ? 0 : Rules != PcpRules.Legacy && _flags.ReclaimActive ? Math.Min(Batch << 2, High) : High;
        if (Count < high) return;
        int n;
        if (freeHigh) n = Count;
        else if (Rules == PcpRules.Legacy || high < Batch) n = high < Batch ? 1 : Batch;
        else
        {
            int maxNrFree = high - Batch;
            int b = Batch << _freeFactor;
            if (b < maxNrFree) _freeFactor++;
            n = Math.Clamp(b, Batch, Math.Max(Batch, maxNrFree));
        }
        int before = Count;
        FreePcppagesBulk(n, pindex);
        DrainedOnFree += before - Count;
    }

    int NrPcpHigh(bool freeHigh)
    {
        int high = High = Math.Clamp(High, HighMin, HighMax);
        if (high == 0) return 0;
        if (freeHigh) { High = Math.Max(high - (Batch << ScaleMax), HighMin); return 0; }
        if (_flags.ReclaimActive)
        {
            int fc = Math.Max(FreeCount, Batch);
            High = Math.Max(high - fc, HighMin);
            return Math.Min(Batch << 2, High);
        }
        if (HighMin == HighMax) return high;
        if (_flags.BelowHigh)
        {
            int fc = Math.Max(FreeCount, Batch);
            High = Math.Max(high - fc, HighMin);
            high = Math.Max(Count, HighMin);
        }
        else if (Count >= high)
        {
            int need = FreeCount + Batch;
            if (High < need) High = Math.Clamp(need, HighMin, HighMax);
        }
        return high;
    }

    int NrPcpFree(int high, bool freeHigh)
    {
        if (freeHigh) return Math.Min(Count, Batch << ScaleMax);
        if (high < Batch) return 1;
        return Math.Clamp(FreeCount, Batch, Math.Max(Batch, high - Batch));
    }

    /// <summary><c>free_pcppages_bulk()</c>: round-robin from <paramref name="pindex"/>, the coldest (last) page of each
    /// list first, each returned with its pageblock's current type and reported as <c>mm_page_pcpu_drain</c>.</summary>
    public void FreePcppagesBulk(int count, int pindex)
    {
        pindex--;
        while (count > 0 && Count > 0)
        {
            do { if (++pindex > NrPcpLists - 1) pindex = 0; } while (_lists[pindex].Count == 0);
            int order = PindexToOrder(pindex);
            var list = _lists[pindex];
            do
            {
                long pfn = list.RemoveLast();
                var ft = _zone.PageblockFreetype(pfn);
                count -= 1 << order;
                Count -= 1 << order;
                _zone.FreeOnePage(pfn, order, ft);
                _zone.Emit(new AllocatorEvent(AllocatorEventKind.PcpuDrain, pfn, order, ft));
            } while (count > 0 && list.Count > 0);
        }
    }

    /// <summary><c>decay_pcp_high()</c> (vmstat worker, about once a second): high shrinks by an eighth (or to count −
    /// batch × 2^SCALE_MAX) but not below high_min, and what is above high is drained in batch-sized chunks.</summary>
    /// <returns>whether it changed anything: once it does not, further runs with no event in between do not either.</returns>
    public bool Decay()
    {
        if (Rules != PcpRules.V67) return false; // decay_pcp_high() arrived with the v6.7 auto-tuning
        int highBefore = High, countBefore = Count;
        if (High > HighMin)
            High = Math.Max(Math.Max(Count - (Batch << ScaleMax), High - (High >> 3)), HighMin);
        int todo = Count - High;
        while (todo > 0)
        {
            int before = Count;
            FreePcppagesBulk(Math.Min(todo, Batch), 0);
            todo -= before - Count;
            DrainedByDecay += before - Count;
            if (Count == before) break;
        }
        return High != highBefore || Count != countBefore;
    }

    /// <summary>Every block on this CPU's lists: head pfn and order.</summary>
    public IEnumerable<(long Pfn, int Order)> Blocks()
    {
        for (int l = 0; l < NrPcpLists; l++)
            for (int k = 0; k < _lists[l].Count; k++) yield return (_lists[l][k], PindexOrder(l));
    }

    /// <summary><c>drain_pages_zone()</c>: everything back to the buddy.</summary>

    public void DrainAll()
    {
        while (Count > 0) FreePcppagesBulk(Math.Max(Count, Batch << ScaleMax), 0);
    }
}

/// <summary>A double-ended queue of pfns (a pcp list: head = hot end, tail = cold end).</summary>
sealed class PfnDeque
{
    // Empty until the first page: most lists of most CPUs of a large machine never hold one.
    long[] _a = [];
    int _head, _count;
    public int Count => _count;
    int Mask => _a.Length - 1;

    void Grow()
    {
        var b = new long[Math.Max(_a.Length * 2, 64)];
        for (int i = 0; i < _count; i++) b[i] = _a[(_head + i) & Mask];
        _a = b; _head = 0;
    }

    public long this[int k] => _a[(_head + k) & Mask];
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddFirst(long v) { if (_count == _a.Length) Grow(); _head = (_head - 1) & Mask; _a[_head] = v; _count++; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddLast(long v) { if (_count == _a.Length) Grow(); _a[(_head + _count) & Mask] = v; _count++; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long RemoveFirst() { long v = _a[_head]; _head = (_head + 1) & Mask; _count--; return v; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long RemoveLast() { _count--; return _a[(_head + _count) & Mask]; }
}
