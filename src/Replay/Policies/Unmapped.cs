using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>unmapped</c>: the Mar 2026 <c>__GFP_UNMAPPED</c> series (docs/model.md, "unmapped"). Unmapped-class allocations
/// come from unmovable pageblocks that were removed from the direct map a pageblock at a time (one kernel-range flush
/// per pageblock, no split of a 2 MiB leaf); <c>__GFP_ZERO</c> on such pages zeroes through the mermap. No ASI: one
/// address space.
/// </summary>
public sealed class Unmapped(PolicyKnobs knobs) : IPolicy
{
    // RFC v1 of __GFP_UNMAPPED supports only unmovable allocations: one unmapped freetype.
    static readonly Freetype UnmappedFreetype = Freetype.Make(Migratetype.Unmovable, 1);

    public string Name => "unmapped";
    public bool IsAsi => false;
    public FreetypeLayout Layout => FreetypeLayout.Unmapped;
    public bool NeedsModelPlacement => true;

    public Freetype FreetypeFor(in AllocRequest r) =>
        r.Class == Sensitivity.Unmapped ? UnmappedFreetype : Freetype.OfMigratetype(Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1));

    // Per CPU: the last allocation there was unmapped. A write() that follows fills that page, and the page has no
    // direct-map mapping, so the copy goes through the mermap (the series' guest_memfd write()).
    bool[] _lastAllocUnmapped = new bool[1];

    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero)
    {
        bool unmapped = r.Class == Sensitivity.Unmapped;
        int cpu = (int)((uint)r.Cpu % (uint)_lastAllocUnmapped.Length);
        _lastAllocUnmapped[cpu] = unmapped;
        // __GFP_UNMAPPED | __GFP_ZERO: the direct map has no mapping; zeroing goes through the mermap.
        if (zero)
        {
            if (unmapped) m.ZeroThroughMermap(r.Cpu, pages);
            else m.Zero(r.Cpu, pfn, pages, inRestricted: false);
        }
        if (unmapped) TopUpReserve(m, r.Cpu, pfn);
    }

    /// <summary>The pool's reserve: convert free pageblocks ahead of demand until the zone holds
    /// <see cref="PolicyKnobs.UnmappedReserve"/> free unmapped pageblocks.</summary>
    void TopUpReserve(Machine m, int cpu, Pfn pfn)
    {
        if (knobs.UnmappedReserve <= 0 || m.Allocator.ZoneOf(pfn.Value) is not { } zone) return;
        long want = (long)knobs.UnmappedReserve << zone.Buddy.Options.PageblockOrder;
        while (zone.Buddy.FreePagesOfFreetype(UnmappedFreetype) < want)
            if (m.Allocator.ConvertFreePageblock(cpu, zone, UnmappedFreetype) < 0) break;
    }

    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls) => true;

    public void OnConvert(Machine m, int cpu, Pfn pfn, int order, Freetype freetype)
    {
        long n = 1L << order;
        long pageblocks = n >> m.Allocator.Options.Buddy.PageblockOrder;
        if (freetype.Flag == 1)
        {
            // A whole pageblock leaves the direct map at once: one flush for 512 pages.
            m.Counters.UnmappedPageblocks += pageblocks;
            m.SetDirectMapPresent(cpu, pfn, n, false);
            m.KernelFlush(cpu, pfn, pfn.Plus(n));
        }
        else
        {
            // An idle unmapped pageblock back in the direct map: Present 0 → 1 needs no flush.
            m.Counters.UnmappedPageblocksReturned += pageblocks;
            m.SetDirectMapPresent(cpu, pfn, n, true);
        }
    }

    long _nextReturn = long.MinValue;

    /// <summary>Every <see cref="PolicyKnobs.UnmappedReturnAfterMs"/> of trace time, wholly free unmapped pageblocks
    /// beyond the reserve go back to the direct map.</summary>
    public long OnTick(Machine m, in TraceEvent e)
    {
        if (knobs.UnmappedReturnAfterMs <= 0) return long.MaxValue;
        if (_nextReturn != long.MinValue)
            m.Allocator.ReturnFreePageblocks(e.Cpu, UnmappedFreetype, UnmappedFreetype.Opposite, knobs.UnmappedReserve);
        _nextReturn = e.TsNs + knobs.UnmappedReturnAfterMs * 1_000_000L;
        return _nextReturn;
    }

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted)
    {
        m.ChargeZeroing(pages);
        m.TouchDirectMap(cpu, pfn, pages, restricted: false);
    }

    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => m.TouchDirectMap(cpu, pfn, 1, restricted: false);

    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => m.TouchDirectMap(cpu, pfn, pages, restricted: false);

    public void OnFileCopy(Machine m, int cpu, int pages)
    {
        if (_lastAllocUnmapped[(int)((uint)cpu % (uint)_lastAllocUnmapped.Length)]) m.MapThroughMermap(cpu, pages);
        else m.TouchLastPageCachePages(cpu, pages);
    }

    public void Start(Machine m) => _lastAllocUnmapped = new bool[Math.Max(m.Allocator.Cpus, 1)];
}
