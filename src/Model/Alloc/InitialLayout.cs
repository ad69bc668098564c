namespace AsiTrace.Model.Alloc;

/// <summary>A zone as <see cref="InitialLayout"/> built it, with what it had to assume.</summary>
public sealed class InitialZone
{
    public required BuddyZone Zone { get; init; }
    public required ZoneSpec Spec { get; init; }
    /// <summary>Free blocks [migratetype][order] the snapshot reports that no valid place was found for.</summary>
    public required long[][] Shortfall { get; init; }
    /// <summary>Blocks to seed each CPU's pcp lists with, by CPU.</summary>
    public Dictionary<int, List<(long Pfn, int Order, Freetype Freetype)>> PcpSeeds { get; } = new();
    public List<string> Assumptions { get; } = new();
    public long OnlinePageblocks { get; init; }
}

/// <summary>
/// Builds a zone's starting state from a <see cref="ZoneSpec"/>: which pageblocks are online, their migratetypes, and
/// free blocks placed so that the free lists hold exactly the snapshot's blocks per migratetype and order — and are
/// canonical, as <c>__free_one_page()</c> would leave them: no two free buddies of the same order (a free block's buddy
/// always keeps an allocated page), and no two wholly free pageblocks that would merge. Pages the caller says must stay
/// allocated (pfns the trace frees before allocating them, i.e. allocations older than the trace) and non-RAM pages
/// never become free. The snapshot does not say where free memory lies; this layout puts max-order blocks at the top
/// of the zone and packs smaller ones into partly used pageblocks, and says so in <see cref="InitialZone.Assumptions"/>.
/// </summary>
public static class InitialLayout
{
    /// <summary>Pageblock types in the order runs of them are laid out from the zone start; movable last, next to the free top.</summary>
    static readonly int[] FillOrder = [Migratetype.Unmovable, Migratetype.Reclaimable, Migratetype.HighAtomic, Migratetype.Cma, Migratetype.Isolate, Migratetype.Movable];

    struct Region { public long Pfn; public bool Flagged; public bool Overlaps; }

    /// <param name="initialFlag">freetype flag every pageblock starts with: the Sep 2025 series starts all pageblocks
    /// sensitive (1, <c>PB_nonsensitive</c> clear); mainline and <c>__GFP_UNMAPPED</c> start at 0 (mapped).</param>
    /// <param name="flaggedFraction">when 0–1, instead of <paramref name="initialFlag"/>: that fraction of the zone's
    /// max-order groups of pageblocks carry flag 1, spread evenly (docs/model.md §8.3, "in proportion to the trace").</param>
    public static InitialZone? Build(ZoneSpec spec, BuddyOptions options, IPfnSet? keepAllocated = null, int initialFlag = 0, double flaggedFraction = -1)
    {
        if (spec.SpannedPages <= 0) return null;
        var b = new Builder(spec, options, initialFlag, flaggedFraction);
        if (!b.FindOnlinePageblocks()) return null;
        b.BlockPagesThatCannotBeFree(keepAllocated);
        b.ReadFreeBlocks();
        b.PlaceMaxOrderBlocks();
        b.TypeRemainingPageblocks();
        if (spec.FreeAllUnblocked) b.FreeEverythingUnblocked();
        b.PlacePageblockOrderBlocks();
        b.PlaceBelowPageblockOrder();
        return b.Finish();
    }

    /// <summary>The state of one zone's layout while <see cref="Build"/> runs its steps.</summary>
    sealed class Builder
    {
        readonly ZoneSpec _spec;
        readonly BuddyOptions _options;
        readonly int _initialFlag, _pbOrder, _maxOrder;
        readonly double _flaggedFraction;
        readonly long _pbPages, _maxPages, _zoneEnd;
        readonly List<(long Start, long End)> _ram;
        readonly List<string> _assumptions = new();
        readonly long[] _counts = new long[Migratetype.Count];
        readonly List<(long Pfn, int Order, int Mt)> _placed = new();
        List<long> _online = new();
        long _baseOfZone, _endOfZone;
        BuddyZone _zone = null!;
        PfnBitmap _blocked = null!;
        long[][] _free = null!, _shortfall = null!;
        int[] _type = null!;
        bool[] _fullyFree = null!;
        Dictionary<long, int> _index = null!;

        public Builder(ZoneSpec spec, BuddyOptions options, int initialFlag, double flaggedFraction)
        {
            _spec = spec; _options = options; _initialFlag = initialFlag; _flaggedFraction = flaggedFraction;
            _pbOrder = options.PageblockOrder; _maxOrder = options.MaxPageOrder;
            _pbPages = 1L << _pbOrder; _maxPages = 1L << _maxOrder;
            _zoneEnd = spec.StartPfn + spec.SpannedPages;
            _ram = spec.Ram.Count > 0 ? spec.Ram.OrderBy(r => r.Start).ToList() : [(spec.StartPfn, _zoneEnd)];
        }

        /// <summary>The freetype flag of the pageblock holding <paramref name="pfn"/>.</summary>
        int FlagOf(long pfn)
        {
            if (_flaggedFraction < 0) return _initialFlag;
            long g = pfn >> _options.MaxPageOrder;
            return Math.Floor((g + 1) * _flaggedFraction) > Math.Floor(g * _flaggedFraction) ? 1 : 0;
        }

        /// <summary>Online pageblocks: pagetypeinfo counts a pageblock when the pfn it visits (the zone start for the
        /// first) is online. Also reads how many pageblocks of each type the snapshot counts. False: none online.</summary>
        public bool FindOnlinePageblocks()
        {
            for (long pb = _spec.StartPfn & ~(_pbPages - 1); pb < _zoneEnd; pb += _pbPages)
                if (IsRam(_ram, Math.Max(pb, _spec.StartPfn))) _online.Add(pb);
            if (_spec.PageblocksByType is { } byType)
            {
                for (int t = 0; t < Migratetype.Count && t < byType.Length; t++) _counts[t] = byType[t];
                long target = _counts.Sum();
                if (target > 0 && _online.Count > target)
                {
                    _assumptions.Add($"{_spec.Name}: {_online.Count} pageblocks are RAM but pagetypeinfo counts {target}; the first {target} are taken as online (memory blocks not onlined lie above them)");
                    _online.RemoveRange((int)target, _online.Count - (int)target);
                }
                else if (_online.Count < target)
                    _assumptions.Add($"{_spec.Name}: pagetypeinfo counts {target} pageblocks but only {_online.Count} are RAM in the zone span");
            }
            else
            {
                _counts[Migratetype.Movable] = _online.Count;
                _assumptions.Add($"{_spec.Name}: no pagetypeinfo; every pageblock taken as movable");
            }
            if (_online.Count == 0) return false;
            _baseOfZone = _online[0] & ~(_maxPages - 1);
            _endOfZone = (_online[^1] + _pbPages + _maxPages - 1) & ~(_maxPages - 1);
            _zone = new BuddyZone(_spec.Name, _baseOfZone, _endOfZone - _baseOfZone, _options);
            _type = new int[_online.Count];
            Array.Fill(_type, -1);
            _fullyFree = new bool[_online.Count];
            _index = new Dictionary<long, int>(_online.Count);
            for (int j = 0; j < _online.Count; j++) _index[_online[j]] = j;
            return true;
        }

        /// <summary>Pages that may never be free: outside the zone span, not RAM, or held by allocations older than the trace.</summary>
        public void BlockPagesThatCannotBeFree(IPfnSet? keepAllocated)
        {
            _blocked = new PfnBitmap(_baseOfZone, _endOfZone - _baseOfZone);
            _blocked.AddRange(_baseOfZone, _spec.StartPfn - _baseOfZone);
            _blocked.AddRange(_zoneEnd, _endOfZone - _zoneEnd);
            foreach (long pb in _online) AddNonRam(_blocked, _ram, pb, pb + _pbPages);
            if (keepAllocated is not null)
                foreach (long pb in _online)
                    for (long p = pb; p < pb + _pbPages; p++) if (keepAllocated.Contains(p)) _blocked.AddRange(p, 1);
        }

        /// <summary>The snapshot's free blocks per migratetype and order (pagetypeinfo).</summary>
        public void ReadFreeBlocks()
        {
            _free = new long[Migratetype.Count][];
            _shortfall = new long[Migratetype.Count][];
            for (int t = 0; t < Migratetype.Count; t++)
            {
                _free[t] = new long[_maxOrder + 1];
                _shortfall[t] = new long[_maxOrder + 1];
                var src = _spec.FreeBlocks is { } fb && t < fb.Length ? fb[t] : [];
                for (int o = 0; o < src.Length; o++)
                {
                    if (o <= _maxOrder) _free[t][o] = src[o];
                    else if (src[o] > 0) _assumptions.Add($"{_spec.Name}: {src[o]} free blocks of order {o} > MAX_PAGE_ORDER {_maxOrder} ignored");
                }
            }
        }

        /// <summary>Max-order blocks: whole aligned groups of online pageblocks, taken from the top of the zone.</summary>
        public void PlaceMaxOrderBlocks()
        {
            int group = (int)(_maxPages / _pbPages);
            int cursor = _online.Count - 1;
            foreach (int t in new[] { Migratetype.Movable, Migratetype.Unmovable, Migratetype.Reclaimable, Migratetype.HighAtomic, Migratetype.Cma, Migratetype.Isolate })
            {
                long need = _free[t][_maxOrder];
                while (need > 0)
                {
                    int j = NextGroup(_online, _type, _blocked, ref cursor, group, _pbPages, _maxPages);
                    if (j < 0) break;
                    for (int k = 0; k < group; k++) { _type[j + k] = t; _fullyFree[j + k] = true; }
                    _counts[t] -= group;
                    _placed.Add((_online[j], _maxOrder, t));
                    need--;
                }
                _shortfall[t][_maxOrder] += need;
                if (_counts[t] < 0)
                {
                    _assumptions.Add($"{_spec.Name}: {Migratetype.Name(t)} free max-order blocks need {-_counts[t]} more pageblocks than pagetypeinfo gives the type (snapshot files are not read atomically)");
                    _counts[t] = 0;
                }
            }
        }

        /// <summary>The remaining pageblocks take their types in runs from the zone start.</summary>
        public void TypeRemainingPageblocks()
        {
            int ti = 0;
            long extra = 0;
            for (int j = 0; j < _online.Count; j++)
            {
                if (_type[j] >= 0) continue;
                while (ti < FillOrder.Length && _counts[FillOrder[ti]] <= 0) ti++;
                if (ti == FillOrder.Length) { _type[j] = Migratetype.Movable; extra++; continue; }
                _type[j] = FillOrder[ti];
                _counts[FillOrder[ti]]--;
            }
            if (extra > 0) _assumptions.Add($"{_spec.Name}: {extra} online pageblocks more than pagetypeinfo counts; taken as movable");
        }

        /// <summary>Without a snapshot: every page the trace does not show allocated before it is free.</summary>
        public void FreeEverythingUnblocked()
        {
            long lastGroup = -1;
            foreach (long pb in _online)
            {
                long g = pb & ~(_maxPages - 1);
                if (g == lastGroup) continue;
                lastGroup = g;
                PlaceAllFree(g, _maxOrder, _blocked, _placed, _type, _index, _pbPages);
            }
            _assumptions.Add($"{_spec.Name}: no snapshot; every page the trace does not show allocated before it is taken as free");
        }

        /// <summary>Orders from pageblock order up to below max order: groups of pageblocks whose buddy group is not wholly free.</summary>
        public void PlacePageblockOrderBlocks()
        {
            for (int o = _maxOrder - 1; o >= _pbOrder; o--)
            {
                int g = 1 << (o - _pbOrder);
                for (int t = 0; t < Migratetype.Count; t++)
                {
                    long need = _free[t][o];
                    for (int j = _online.Count - g; j >= 0 && need > 0; j--)
                        if (TryPlaceGroup(j, g, o, t)) need--;
                    _shortfall[t][o] += need;
                }
            }
        }

        bool TryPlaceGroup(int j, int g, int o, int t)
        {
            long pfn = _online[j];
            if ((pfn & ((1L << o) - 1)) != 0 || !Consecutive(_online, j, g, _pbPages)) return false;
            for (int k = 0; k < g; k++) if (_type[j + k] != t || _fullyFree[j + k]) return false;
            if (_blocked.AnyInRange(pfn, 1L << o)) return false;
            long buddy = pfn ^ (1L << o);
            for (long b = buddy; b < buddy + (1L << o); b += _pbPages)
                if (_index.TryGetValue(b, out int bj) && _fullyFree[bj]) return false;
            for (int k = 0; k < g; k++) _fullyFree[j + k] = true;
            _placed.Add((pfn, o, t));
            return true;
        }

        /// <summary>Below pageblock order: per type, split regions lazily. Splitting R into halves A and B flags B (it may
        /// never be wholly free) unless a half holds a page that must stay allocated, so no two free buddies ever arise.</summary>
        public void PlaceBelowPageblockOrder()
        {
            for (int t = 0; t < Migratetype.Count; t++)
            {
                int top = Math.Min(_pbOrder, _maxOrder);
                var usable = new Stack<Region>[top + 1];
                var unusable = new Stack<Region>[top + 1];
                for (int k = 0; k <= top; k++) { usable[k] = new(); unusable[k] = new(); }
                for (int j = 0; j < _online.Count; j++)
                    if (_type[j] == t && !_fullyFree[j] && !_blocked.AllInRange(_online[j], _pbPages))
                        unusable[top].Push(new Region { Pfn = _online[j], Overlaps = true });
                for (int o = top - 1; o >= 0; o--)
                {
                    long need = _free[t][o];
                    while (need > 0)
                    {
                        if (usable[o].TryPop(out var r))
                        {
                            _placed.Add((r.Pfn, o, t));
                            need--;
                            continue;
                        }
                        // Split the smallest larger region available.
                        int k = o + 1;
                        while (k <= top && usable[k].Count == 0 && unusable[k].Count == 0) k++;
                        if (k > top) break;
                        var big = usable[k].Count > 0 ? usable[k].Pop() : unusable[k].Pop();
                        Split(big, k - 1, _blocked, usable[k - 1], unusable[k - 1]);
                    }
                    _shortfall[t][o] += need;
                }
            }
        }

        /// <summary>Each online pageblock's freetype from its type and flag.</summary>
        void LabelPageblocks()
        {
            for (int j = 0; j < _online.Count; j++) _zone.SetPageblockFreetype(_online[j], Freetype.Make(_type[j], FlagOf(_online[j])));
        }

        /// <summary>Puts the placed blocks on the zone's free lists and seeds the pcp lists.</summary>
        public InitialZone Finish()
        {
            LabelPageblocks();
            _placed.Sort((a, b) => a.Pfn.CompareTo(b.Pfn));
            foreach (var (pfn, order, mt) in _placed) _zone.AddFreeBlock(pfn, order, Freetype.Make(mt, FlagOf(pfn)));
            // AddFreeBlock labels every pageblock a block covers with the block's type; a block found free across
            // pageblocks of two types (no snapshot) keeps each pageblock's own label.
            LabelPageblocks();
            var result = new InitialZone { Zone = _zone, Spec = _spec, Shortfall = _shortfall, OnlinePageblocks = _online.Count };
            result.Assumptions.AddRange(_assumptions);
            long missing = 0;
            foreach (var row in _shortfall) foreach (long v in row) missing += v;
            if (missing > 0) result.Assumptions.Add($"{_spec.Name}: {missing} free blocks of the snapshot found no canonical place (too little room in pageblocks of their type)");
            var freeMap = new PfnBitmap(_baseOfZone, _endOfZone - _baseOfZone);
            foreach (var (pfn, order, _) in _placed) freeMap.AddRange(pfn, 1L << order);
            SeedPcp(_spec, _online, _type, _fullyFree, freeMap, _blocked, result, FlagOf);
            return result;
        }
    }

    /// <summary>Frees everything unblocked in [pfn, pfn + 2^order) as the largest blocks possible: a region with a blocked
    /// page is split, so two free buddies never arise.</summary>
    static void PlaceAllFree(long pfn, int order, PfnBitmap blocked, List<(long, int, int)> placed, int[] type, Dictionary<long, int> index, long pbPages)
    {
        long size = 1L << order;
        if (blocked.AllInRange(pfn, size)) return;
        if (!blocked.AnyInRange(pfn, size))
        {
            // Only inside online pageblocks.
            for (long b = pfn & ~(pbPages - 1); b < pfn + size; b += pbPages) if (!index.ContainsKey(b)) goto split;
            placed.Add((pfn, order, type[index[pfn & ~(pbPages - 1)]]));
            return;
        }
        split:
        if (order == 0) return;
        PlaceAllFree(pfn, order - 1, blocked, placed, type, index, pbPages);
        PlaceAllFree(pfn + size / 2, order - 1, blocked, placed, type, index, pbPages);
    }

    static void Split(Region r, int order, PfnBitmap blocked, Stack<Region> usable, Stack<Region> unusable)
    {
        long size = 1L << order;
        long a = r.Pfn, b = r.Pfn + size;
        bool aOv = blocked.AnyInRange(a, size), bOv = blocked.AnyInRange(b, size);
        bool either = aOv || bOv;
        // Upper half first so the lower one is popped first.
        Push(new Region { Pfn = b, Overlaps = bOv, Flagged = !either }, size, blocked, usable, unusable);
        Push(new Region { Pfn = a, Overlaps = aOv, Flagged = false }, size, blocked, usable, unusable);
    }

    static void Push(Region r, long size, PfnBitmap blocked, Stack<Region> usable, Stack<Region> unusable)
    {
        if (r.Overlaps && blocked.AllInRange(r.Pfn, size)) return; // nothing can ever be free in it
        if (r.Flagged || r.Overlaps) unusable.Push(r); else usable.Push(r);
    }

    /// <summary>The next aligned group of <paramref name="group"/> consecutive, untyped, unblocked online pageblocks, from the top down.</summary>
    static int NextGroup(List<long> online, int[] type, PfnBitmap blocked, ref int cursor, int group, long pbPages, long maxPages)
    {
        for (; cursor - group + 1 >= 0; cursor--)
        {
            int j = cursor - group + 1;
            if ((online[j] & (maxPages - 1)) != 0 || !Consecutive(online, j, group, pbPages)) continue;
            bool free = true;
            for (int k = 0; k < group && free; k++) free = type[j + k] < 0;
            if (!free || blocked.AnyInRange(online[j], maxPages)) continue;
            cursor = j - 1;
            return j;
        }
        return -1;
    }

    static bool Consecutive(List<long> online, int j, int n, long pbPages) =>
        j + n - 1 < online.Count && online[j + n - 1] == online[j] + (n - 1) * pbPages;

    static bool IsRam(List<(long Start, long End)> ram, long pfn)
    {
        foreach (var r in ram) if (pfn >= r.Start && pfn < r.End) return true;
        return false;
    }

    static void AddNonRam(PfnBitmap blocked, List<(long Start, long End)> ram, long from, long to)
    {
        long p = from;
        foreach (var r in ram)
        {
            if (r.End <= p) continue;
            if (r.Start >= to) break;
            if (r.Start > p) blocked.AddRange(p, r.Start - p);
            p = Math.Max(p, r.End);
            if (p >= to) return;
        }
        if (p < to) blocked.AddRange(p, to - p);
    }

    /// <summary>The pages each CPU's pcp lists held at the snapshot: allocated from the buddy's view, so taken from
    /// naturally aligned blocks that are neither free nor blocked, in pageblocks of the list's type where possible (which
    /// pages they were is unknown).</summary>
    static void SeedPcp(ZoneSpec spec, List<long> online, int[] type, bool[] fullyFree, PfnBitmap freeMap, PfnBitmap blocked, InitialZone result, Func<long, int> flagOf)
    {
        var taken = new PfnBitmap(freeMap.Base, freeMap.Pages);
        long pbPages = online.Count > 1 ? online[1] - online[0] : 512;
        foreach (var p in spec.Pcp)
        {
            if (p.Count <= 0) continue;
            var lists = spec.PcpLists is { } l && l.TryGetValue(p.Cpu, out var mine) ? mine : [new PcpListSeed(0, Migratetype.Movable, p.Count)];
            var seeds = new List<(long, int, Freetype)>();
            long missing = 0;
            foreach (var list in lists.OrderByDescending(x => x.Order))
            {
                long size = 1L << list.Order;
                int got = 0;
                for (int pass = 0; pass < 2 && got < list.Blocks; pass++)
                    for (int j = 0; j < online.Count && got < list.Blocks; j++)
                    {
                        if (fullyFree[j] || (pass == 0) != (type[j] == list.Mt)) continue;
                        for (long pfn = online[j]; pfn + size <= online[j] + pbPages && got < list.Blocks; pfn += size)
                        {
                            if (freeMap.AnyInRange(pfn, size) || blocked.AnyInRange(pfn, size) || taken.AnyInRange(pfn, size)) continue;
                            taken.AddRange(pfn, size);
                            seeds.Add((pfn, list.Order, Freetype.Make(list.Mt, flagOf(pfn))));
                            got++;
                        }
                    }
                missing += (list.Blocks - got) * size;
            }
            result.PcpSeeds[p.Cpu] = seeds;
            if (missing > 0) result.Assumptions.Add($"{spec.Name}: {missing} of CPU {p.Cpu}'s {p.Count} pcp pages found no allocated block to stand for them");
        }
    }
}
