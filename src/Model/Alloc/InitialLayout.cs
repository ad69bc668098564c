namespace AsiTrace.Model.Alloc;

/// <summary>A zone as <see cref="InitialLayout"/> built it, with what it had to assume.</summary>
public sealed class InitialZone
{
    public required BuddyZone Zone { get; init; }
    public required ZoneSpec Spec { get; init; }
    /// <summary>Free blocks [migratetype][order] the snapshot reports that no valid place was found for.</summary>
    public required long[][] Shortfall { get; init; }
    /// <summary>Blocks to seed each CPU's pcp lists with, by CPU.</summary>
    public Dictionary<int, List<(long Pfn, int Order, int Mt)>> PcpSeeds { get; } = new();
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
    /// max-order groups of pageblocks carry flag 1, spread evenly (§8.3 "proportional to trace mix").</param>
    public static InitialZone? Build(ZoneSpec spec, BuddyOptions options, IPfnSet? keepAllocated = null, int initialFlag = 0, double flaggedFraction = -1)
    {
        int maxOrderForFlags = options.MaxPageOrder;
        int FlagOf(long pfn)
        {
            if (flaggedFraction < 0) return initialFlag;
            long g = pfn >> maxOrderForFlags;
            return Math.Floor((g + 1) * flaggedFraction) > Math.Floor(g * flaggedFraction) ? 1 : 0;
        }
        int pbOrder = options.PageblockOrder, maxOrder = options.MaxPageOrder;
        long pbPages = 1L << pbOrder, maxPages = 1L << maxOrder;
        if (spec.SpannedPages <= 0) return null;
        long zoneEnd = spec.StartPfn + spec.SpannedPages;
        var ram = spec.Ram.Count > 0 ? spec.Ram.OrderBy(r => r.Start).ToList() : [(spec.StartPfn, zoneEnd)];

        // Online pageblocks: pagetypeinfo counts a pageblock when the pfn it visits (the zone start for the first) is online.
        var online = new List<long>();
        for (long pb = spec.StartPfn & ~(pbPages - 1); pb < zoneEnd; pb += pbPages)
            if (IsRam(ram, Math.Max(pb, spec.StartPfn))) online.Add(pb);
        var assumptions = new List<string>();
        long[] counts = new long[Migratetype.Count];
        if (spec.PageblocksByType is { } byType)
        {
            for (int t = 0; t < Migratetype.Count && t < byType.Length; t++) counts[t] = byType[t];
            long target = counts.Sum();
            if (target > 0 && online.Count > target)
            {
                assumptions.Add($"{spec.Name}: {online.Count} pageblocks are RAM but pagetypeinfo counts {target}; the first {target} are taken as online (memory blocks not onlined lie above them)");
                online.RemoveRange((int)target, online.Count - (int)target);
            }
            else if (online.Count < target)
                assumptions.Add($"{spec.Name}: pagetypeinfo counts {target} pageblocks but only {online.Count} are RAM in the zone span");
        }
        else
        {
            counts[Migratetype.Movable] = online.Count;
            assumptions.Add($"{spec.Name}: no pagetypeinfo; every pageblock taken as movable");
        }
        if (online.Count == 0) return null;

        long baseOfZone = online[0] & ~(maxPages - 1);
        long endOfZone = (online[^1] + pbPages + maxPages - 1) & ~(maxPages - 1);
        var zone = new BuddyZone(spec.Name, baseOfZone, endOfZone - baseOfZone, options);

        // Pages that may never be free: outside the zone span, not RAM, or held by allocations older than the trace.
        var blocked = new PfnBitmap(baseOfZone, endOfZone - baseOfZone);
        blocked.AddRange(baseOfZone, spec.StartPfn - baseOfZone);
        blocked.AddRange(zoneEnd, endOfZone - zoneEnd);
        foreach (long pb in online) AddNonRam(blocked, ram, pb, pb + pbPages);
        if (keepAllocated is not null)
            foreach (long pb in online)
                for (long p = pb; p < pb + pbPages; p++) if (keepAllocated.Contains(p)) blocked.AddRange(p, 1);

        var free = new long[Migratetype.Count][];
        var shortfall = new long[Migratetype.Count][];
        for (int t = 0; t < Migratetype.Count; t++)
        {
            free[t] = new long[maxOrder + 1];
            shortfall[t] = new long[maxOrder + 1];
            var src = spec.FreeBlocks is { } fb && t < fb.Length ? fb[t] : [];
            for (int o = 0; o < src.Length; o++)
            {
                if (o <= maxOrder) free[t][o] = src[o];
                else if (src[o] > 0) { assumptions.Add($"{spec.Name}: {src[o]} free blocks of order {o} > MAX_PAGE_ORDER {maxOrder} ignored"); }
            }
        }

        var type = new int[online.Count];
        Array.Fill(type, -1);
        var fullyFree = new bool[online.Count];
        var placed = new List<(long Pfn, int Order, int Mt)>();
        var index = new Dictionary<long, int>(online.Count);
        for (int j = 0; j < online.Count; j++) index[online[j]] = j;
        int group = (int)(maxPages / pbPages);

        // Max-order blocks: whole aligned groups of online pageblocks, taken from the top of the zone.
        int cursor = online.Count - 1;
        foreach (int t in new[] { Migratetype.Movable, Migratetype.Unmovable, Migratetype.Reclaimable, Migratetype.HighAtomic, Migratetype.Cma, Migratetype.Isolate })
        {
            long need = free[t][maxOrder];
            while (need > 0)
            {
                int j = NextGroup(online, type, blocked, ref cursor, group, pbPages, maxPages);
                if (j < 0) break;
                for (int k = 0; k < group; k++) { type[j + k] = t; fullyFree[j + k] = true; }
                counts[t] -= group;
                placed.Add((online[j], maxOrder, t));
                need--;
            }
            shortfall[t][maxOrder] += need;
            if (counts[t] < 0)
            {
                assumptions.Add($"{spec.Name}: {Migratetype.Name(t)} free max-order blocks need {-counts[t]} more pageblocks than pagetypeinfo gives the type (snapshot files are not read atomically)");
                counts[t] = 0;
            }
        }

        // The remaining pageblocks take their types in runs from the zone start.
        int ti = 0;
        long extra = 0;
        for (int j = 0; j < online.Count; j++)
        {
            if (type[j] >= 0) continue;
            while (ti < FillOrder.Length && counts[FillOrder[ti]] <= 0) ti++;
            if (ti == FillOrder.Length) { type[j] = Migratetype.Movable; extra++; continue; }
            type[j] = FillOrder[ti];
            counts[FillOrder[ti]]--;
        }
        if (extra > 0) assumptions.Add($"{spec.Name}: {extra} online pageblocks more than pagetypeinfo counts; taken as movable");

        if (spec.FreeAllUnblocked)
        {
            long lastGroup = -1;
            foreach (long pb in online)
            {
                long g = pb & ~(maxPages - 1);
                if (g == lastGroup) continue;
                lastGroup = g;
                PlaceAllFree(g, maxOrder, blocked, placed, type, index, pbPages);
            }
            assumptions.Add($"{spec.Name}: no snapshot; every page the trace does not show allocated before it is taken as free");
        }

        // Orders from pageblock order up to below max order: groups of pageblocks whose buddy group is not wholly free.
        for (int o = maxOrder - 1; o >= pbOrder; o--)
        {
            int g = 1 << (o - pbOrder);
            for (int t = 0; t < Migratetype.Count; t++)
            {
                long need = free[t][o];
                for (int j = online.Count - g; j >= 0 && need > 0; j--)
                {
                    long pfn = online[j];
                    if ((pfn & ((1L << o) - 1)) != 0 || !Consecutive(online, j, g, pbPages)) continue;
                    bool ok = true;
                    for (int k = 0; k < g && ok; k++) ok = type[j + k] == t && !fullyFree[j + k];
                    if (!ok || blocked.AnyInRange(pfn, 1L << o)) continue;
                    long buddy = pfn ^ (1L << o);
                    for (long b = buddy; b < buddy + (1L << o) && ok; b += pbPages)
                        if (index.TryGetValue(b, out int bj) && fullyFree[bj]) ok = false;
                    if (!ok) continue;
                    for (int k = 0; k < g; k++) fullyFree[j + k] = true;
                    placed.Add((pfn, o, t));
                    need--;
                }
                shortfall[t][o] += need;
            }
        }

        // Below pageblock order: per type, split regions lazily. Splitting R into halves A and B flags B (it may never be
        // wholly free) unless a half holds a page that must stay allocated, so no two free buddies ever arise.
        for (int t = 0; t < Migratetype.Count; t++)
        {
            int top = Math.Min(pbOrder, maxOrder);
            var usable = new Stack<Region>[top + 1];
            var unusable = new Stack<Region>[top + 1];
            for (int k = 0; k <= top; k++) { usable[k] = new(); unusable[k] = new(); }
            for (int j = 0; j < online.Count; j++)
                if (type[j] == t && !fullyFree[j] && !blocked.AllInRange(online[j], pbPages))
                    unusable[top].Push(new Region { Pfn = online[j], Overlaps = true });
            for (int o = top - 1; o >= 0; o--)
            {
                long need = free[t][o];
                while (need > 0)
                {
                    if (usable[o].TryPop(out var r))
                    {
                        placed.Add((r.Pfn, o, t));
                        need--;
                        continue;
                    }
                    // Split the smallest larger region available.
                    int k = o + 1;
                    while (k <= top && usable[k].Count == 0 && unusable[k].Count == 0) k++;
                    if (k > top) break;
                    var big = usable[k].Count > 0 ? usable[k].Pop() : unusable[k].Pop();
                    Split(big, k - 1, blocked, usable[k - 1], unusable[k - 1]);
                }
                shortfall[t][o] += need;
            }
        }

        for (int j = 0; j < online.Count; j++) zone.SetPageblockFreetype(online[j], Freetype.Make(type[j], FlagOf(online[j])));
        placed.Sort((a, b) => a.Pfn.CompareTo(b.Pfn));
        foreach (var (pfn, order, mt) in placed) zone.AddFreeBlock(pfn, order, Freetype.Make(mt, FlagOf(pfn)));
        for (int j = 0; j < online.Count; j++) zone.SetPageblockFreetype(online[j], Freetype.Make(type[j], FlagOf(online[j])));

        var result = new InitialZone { Zone = zone, Spec = spec, Shortfall = shortfall, OnlinePageblocks = online.Count };
        result.Assumptions.AddRange(assumptions);
        long missing = 0;
        foreach (var row in shortfall) foreach (long v in row) missing += v;
        if (missing > 0) result.Assumptions.Add($"{spec.Name}: {missing} free blocks of the snapshot found no canonical place (too little room in pageblocks of their type)");
        var freeMap = new PfnBitmap(baseOfZone, endOfZone - baseOfZone);
        foreach (var (pfn, order, _) in placed) freeMap.AddRange(pfn, 1L << order);
        SeedPcp(spec, online, type, fullyFree, freeMap, blocked, result, FlagOf);
        return result;
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
            var seeds = new List<(long, int, int)>();
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
