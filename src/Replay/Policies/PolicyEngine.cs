using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Paging;
using AsiTrace.Model.Tlb;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>Why an <c>asi_exit</c> happened (issue 6; model-reference.md §6.2).</summary>
public enum ExitCause { PageCache, Zeroing, CopyOnWrite, ContextSwitch, Other }

/// <summary>
/// One policy's machine: the page allocator (with its freetype layout), the unrestricted direct map, ASI's restricted
/// map, the per-CPU TLBs and the cost model, fed the shared request stream. Every kernel memory access an event implies
/// goes through the TLB model: allocating and freeing touch <c>struct page</c> in the vmemmap, zeroing touches each
/// page's direct-map translation, a page-cache fill copies through the direct map (or the mermap). Costs are data;
/// nothing is timed.
/// </summary>
public sealed class PolicyEngine : IRequestSink
{
    public PolicySpec Spec { get; }
    public PolicyKnobs Knobs { get; }
    public PageAllocator Allocator { get; }
    public DirectMap DirectMap { get; }
    public DirectMap? Restricted { get; }
    public TlbMachine Tlb { get; }
    public CostModel Costs { get; }
    public string Name => Spec.Name;
    /// <summary><c>--placement trace</c>: pages stay at the pfns the trace shows; the allocator model is not asked
    /// (its state does not follow), so only the MMU-side costs of where pages really were are modelled.</summary>
    public bool TracePlacement { get; init; }

    const ulong VmemmapBase = 0xffff_ea00_0000_0000UL; // 4-level layout (Documentation/arch/x86/x86_64/mm.rst)
    readonly byte[] _pageClass;          // per pfn: class + 1 of the allocation holding it (0: free or older)
    readonly PfnBitmap _formerlySensitive;
    readonly Mermap? _mermap;
    readonly List<(long Pfn, int Order, int Cpu)> _rfcPending = new();
    long _rfcPendingPages;
    readonly CpaTotals _cpaDirect = new(), _cpaRestricted = new();
    readonly FlushCounters _flushBase;

    // Counters (cumulative; the series samples them).
    public long ModelFailures, BytesZeroed, PagesZeroedForFlip, TracedIpisReceived, TracedIpisSent, TracedFullFlushes, TracedSinglePages;
    public readonly long[] AsiExits = new long[5];
    public long PageblockFlipsToNonsensitive, PageblockFlipsToSensitive, UnmappedPageblocks, PerAllocationUnmaps;
    public long MermapPages, MermapLocalFlushes;
    public double ZeroingNs, TracedTlbNs, AsiTransitionNs, MermapNs;
    readonly double _transitionNs; // one asi_exit + asi_enter
    readonly double _zero4kNs, _copy4kNs; // per page, in ns at the preset's clock: charged on every allocation

    public PolicyEngine(PolicySpec spec, PolicyKnobs knobs, PageAllocator allocator, IReadOnlyList<PhysRange> ram, long pfnLimit,
        int cpus, CpuPreset preset, CostModel costs, IEnumerable<(long Pfn, int Order)> initialFree)
    {
        Spec = spec; Knobs = knobs; Allocator = allocator; Costs = costs;
        _zero4kNs = costs.Zero4K.Ns(costs.CpuGhz);
        _transitionNs = TransitionNs(costs, knobs);
        _copy4kNs = costs.Copy4K.Ns(costs.CpuGhz);
        DirectMap = DirectMap.Build(ram, new DirectMapOptions { Global = !spec.IsAsi });
        if (spec.IsAsi)
        {
            Restricted = DirectMap.Build(ram, new DirectMapOptions { Restricted = true });
            if (spec.Kind == PolicyKind.AsiRfc) MapAllocatedInRestricted(initialFree, pfnLimit);
        }
        MapVmemmap(DirectMap.Tables, pfnLimit, global: !spec.IsAsi);
        if (Restricted is not null) MapVmemmap(Restricted.Tables, pfnLimit, global: false);
        Tlb = new TlbMachine(preset, Math.Max(cpus, 1), DirectMap.Tables, new TlbOptions
        {
            GlobalPages = !spec.IsAsi, InvalidateOther = spec.IsAsi, Invlpgb = knobs.Invlpgb && preset.Invlpgb,
        }) { Restricted = Restricted?.Tables };
        _pageClass = new byte[pfnLimit];
        _formerlySensitive = new PfnBitmap(0, pfnLimit);
        if (spec.Mermap) _mermap = new Mermap(Math.Max(cpus, 1), knobs.MermapWindowPages);
        allocator.OnConvert = OnConvert;
        // What the initial layout cost is not the replay's: counters start from here.
        _cpaDirect.Owner = _cpaRestricted.Owner = this;
        _cpaDirect.Baseline(DirectMap); if (Restricted is not null) _cpaRestricted.Baseline(Restricted);
        _flushBase = Snapshot(Tlb.Counters);
    }

    static FlushCounters Snapshot(FlushCounters c) => new()
    {
        IpisSent = c.IpisSent, IpisReceived = c.IpisReceived, Invlpg = c.Invlpg, LocalFullFlushes = c.LocalFullFlushes,
        GlobalFlushes = c.GlobalFlushes, EntriesInvalidated = c.EntriesInvalidated, InvlpgbBroadcasts = c.InvlpgbBroadcasts,
        KernelRangeFlushes = c.KernelRangeFlushes, KernelSinglePageFlushes = c.KernelSinglePageFlushes, KernelFullFlushes = c.KernelFullFlushes,
    };

    /// <summary>The RFC maps everything allocated at the start (kernel data, taken as nonsensitive) in the restricted
    /// map; free pages are absent from it.</summary>
    void MapAllocatedInRestricted(IEnumerable<(long Pfn, int Order)> initialFree, long pfnLimit)
    {
        var free = initialFree.OrderBy(f => f.Pfn).ToList();
        long p = 0;
        foreach (var (pfn, order) in free)
        {
            if (pfn > p) Restricted!.SetPresent((ulong)p, pfn - p, true);
            p = Math.Max(p, pfn + (1L << order));
        }
        if (p < pfnLimit) Restricted!.SetPresent((ulong)p, pfnLimit - p, true);
    }

    /// <summary>The vmemmap (64-byte <c>struct page</c> per frame) mapped with 2 MiB leaves, as <c>vmemmap_populate</c> does.</summary>
    static void MapVmemmap(PageTables tables, long pfnLimit, bool global)
    {
        long bytes = pfnLimit * 64;
        var flags = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Nx | (global ? Pte.Global : Pte.None);
        // Backed by frames past the end of RAM: the model only translates these addresses, never allocates them.
        ulong backing = (ulong)pfnLimit + 512;
        for (long off = 0; off < bytes; off += 2 << 20, backing += 512)
            tables.MapLeaf(VmemmapBase + (ulong)off, PageLevel.Pmd, backing, flags);
    }

    static ulong StructPage(long pfn) => VmemmapBase + (ulong)pfn * 64;

    int FreetypeFor(in AllocRequest r)
    {
        int mt = Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1);
        return Spec.Kind switch
        {
            PolicyKind.AsiFreetypes => Freetype.Make(mt, r.Class == Sensitivity.Nonsensitive ? 0 : 1),
            // RFC v1 of __GFP_UNMAPPED supports only unmovable allocations.
            PolicyKind.Unmapped when r.Class == Sensitivity.Unmapped => Freetype.Make(Migratetype.Unmovable, 1),
            _ => mt,
        };
    }

    bool Restricted0 => Spec.IsAsi; // ASI policies run the kernel in the restricted space by default

    public long Alloc(in AllocRequest r)
    {
        int ft = FreetypeFor(in r);
        var always = AllocFlags.None;
        if (Spec.Kind == PolicyKind.AsiFreetypes && !Knobs.NoBlockMayFlip && (r.Gfp & (ulong)Gfp.DirectReclaim) == 0) always |= AllocFlags.NoBlock;
        _cpu = r.Cpu;
        if (r.Order <= 20 && (uint)r.Migratetype < 8) _mix[(r.Order * 8 + r.Migratetype) * 3 + (int)r.Class]++;
        long pfn = TracePlacement ? r.TracePfn : Allocator.Alloc(r.Cpu, r.Order, r.HighestZoneIdx, ft, NoAsiFlags(r.Gfp, r.Order), always);
        if (TracePlacement && (pfn < 0 || pfn + (1L << r.Order) > _pageClass.Length)) { ModelFailures++; return -1; }
        if (pfn < 0) { ModelFailures++; return -1; }
        long n = 1L << r.Order;
        Access(r.Cpu, StructPage(pfn), Restricted0);
        for (long i = 0; i < n; i++) _pageClass[pfn + i] = (byte)(r.Class + 1);
        bool zero = (r.Gfp & (ulong)Gfp.Zero) != 0;
        // A user page allocated without __GFP_ZERO and not for the page cache is filled by copying another page:
        // copy-on-write (wp_page_copy) is the common case (anonymous faults zero; swap-in and migration also copy).
        if (r.Reason == ClassReason.Hardwall && !zero && r.Order == 0 && r.Migratetype == Migratetype.Movable) CopyOnWrite(r.Cpu, pfn);
        switch (Spec.Kind)
        {
            case PolicyKind.NoAsi:
                if (zero) Zero(r.Cpu, pfn, n, inRestricted: false, exitIfUnmapped: false);
                break;
            case PolicyKind.AsiRfc:
                if (r.Class == Sensitivity.Nonsensitive)
                {
                    // Formerly sensitive pages are zeroed before they become visible in the restricted map.
                    long dirty = 0;
                    for (long i = 0; i < n; i++) if (_formerlySensitive.Contains(pfn + i)) dirty++;
                    if (dirty > 0) Zero(r.Cpu, pfn, n, inRestricted: false, exitIfUnmapped: true);
                    _cpaRestricted.Add(Restricted!.SetPresent((ulong)pfn, n, true), Tlb, r.Cpu);
                    if (zero) Zero(r.Cpu, pfn, n, inRestricted: true, exitIfUnmapped: false);
                }
                else
                {
                    _formerlySensitive.AddRange(pfn, n);
                    if (zero) Zero(r.Cpu, pfn, n, inRestricted: false, exitIfUnmapped: true);
                }
                break;
            case PolicyKind.AsiFreetypes:
                if (zero) Zero(r.Cpu, pfn, n, inRestricted: r.Class == Sensitivity.Nonsensitive, exitIfUnmapped: r.Class != Sensitivity.Nonsensitive);
                break;
            case PolicyKind.Unmapped:
                // __GFP_UNMAPPED | __GFP_ZERO: the direct map has no mapping; zeroing goes through the mermap.
                if (zero) { if (r.Class == Sensitivity.Unmapped) MermapZero(r.Cpu, n); else Zero(r.Cpu, pfn, n, false, false); }
                if (r.Class == Sensitivity.Unmapped) TopUpUnmappedReserve(pfn, r.Cpu);
                break;
            case PolicyKind.SecretFree:
                if (zero) Zero(r.Cpu, pfn, n, inRestricted: false, exitIfUnmapped: false);
                if (r.Class == Sensitivity.Unmapped)
                {
                    // secretmem / guest_memfd today: set_direct_map_invalid_noflush() per page, then a kernel-range flush.
                    _cpaDirect.Add(DirectMap.SetPresent((ulong)pfn, n, false), Tlb, r.Cpu);
                    ulong va = DirectMap.VirtualAddress((ulong)pfn);
                    KernelFlush(r.Cpu, va, va + (ulong)n * 4096);
                    PerAllocationUnmaps++;
                }
                break;
        }
        return pfn;
    }

    static AllocFlags NoAsiFlags(ulong gfp, int order) => SlowPathFlags(gfp, order);

    /// <summary><c>gfp_to_alloc_flags()</c>: __GFP_HIGH → ALLOC_MIN_RESERVE; without __GFP_DIRECT_RECLAIM (and without
    /// __GFP_NOMEMALLOC) → ALLOC_NON_BLOCK, plus ALLOC_HIGHATOMIC for order &gt; 0.</summary>
    public static AllocFlags SlowPathFlags(ulong gfp, int order)
    {
        var f = AllocFlags.None;
        if ((gfp & (ulong)Gfp.High) != 0) f |= AllocFlags.MinReserve;
        if ((gfp & (ulong)Gfp.DirectReclaim) == 0 && (gfp & (ulong)Gfp.NoMemalloc) == 0)
        {
            f |= AllocFlags.NonBlock;
            if (order > 0) f |= AllocFlags.HighAtomic;
        }
        return f;
    }

    public void Free(in FreeRequest r, long modelPfn)
    {
        long n = 1L << r.Order;
        _cpu = r.Cpu;
        Access(r.Cpu, StructPage(modelPfn), Restricted0);
        var cls = _pageClass[modelPfn] == 0 ? (Sensitivity?)null : (Sensitivity)(_pageClass[modelPfn] - 1);
        for (long i = 0; i < n; i++) _pageClass[modelPfn + i] = 0;
        switch (Spec.Kind)
        {
            case PolicyKind.AsiRfc when cls == Sensitivity.Nonsensitive || cls is null:
                // Queued for the asynchronous unmap; the pages reach the buddy (bypassing pcp) after the flush.
                _rfcPending.Add((modelPfn, r.Order, r.Cpu));
                _rfcPendingPages += n;
                if (_rfcPendingPages >= Knobs.RfcUnmapBatch) RfcUnmapWork(r.Cpu);
                return;
            case PolicyKind.SecretFree when cls == Sensitivity.Unmapped:
                // set_direct_map_default_noflush(): present again; no flush for 0 → 1, no collapse.
                _cpaDirect.Add(DirectMap.SetPresent((ulong)modelPfn, n, true), Tlb, r.Cpu);
                break;
        }
        if (!TracePlacement) Allocator.Free(r.Cpu, modelPfn, r.Order);
    }

    /// <summary>The RFC's unmap worker: clear the queued pages from the restricted map, then one
    /// <c>flush_tlb_kernel_range()</c> over the span they cover (a full flush when it exceeds the single-page ceiling),
    /// then free them to the buddy bypassing the pcp lists.</summary>
    void RfcUnmapWork(int cpu)
    {
        long lo = long.MaxValue, hi = 0;
        foreach (var (pfn, order, _) in _rfcPending)
        {
            _cpaRestricted.Add(Restricted!.SetPresent((ulong)pfn, 1L << order, false), Tlb, cpu);
            lo = Math.Min(lo, pfn);
            hi = Math.Max(hi, pfn + (1L << order));
        }
        KernelFlush(cpu, DirectMap.VirtualAddress((ulong)lo), DirectMap.VirtualAddress((ulong)hi));
        if (!TracePlacement) foreach (var (pfn, order, _) in _rfcPending) Allocator.FreeToBuddy(pfn, order);
        _rfcPending.Clear();
        _rfcPendingPages = 0;
    }

    int _cpu;

    /// <summary><c>flush_tlb_kernel_range()</c>, and what it costs the initiating CPU (its wait is the caller's latency):
    /// the IPI round (or an INVLPGB broadcast) plus its own INVLPGs or full flush. The targets' handling is CPU time,
    /// not the caller's latency.</summary>
    void KernelFlush(int cpu, ulong start, ulong end)
    {
        cpu %= Tlb.Cpus.Length;
        Tlb.FlushTlbKernelRange(cpu, start, end);
        long pages = (long)((end - start + 4095) >> 12);
        InitiatorFlushNs += IpiRound() + (pages > Tlb.Options.FlushCeiling ? Costs.GlobalFlush.Ns(Costs.CpuGhz) : pages * Costs.InvlpgPerPage.Ns(Costs.CpuGhz));
    }

    /// <summary><c>flush_tlb_all()</c> (after a large-page split).</summary>
    internal void FlushAll(int cpu)
    {
        cpu %= Tlb.Cpus.Length;
        Tlb.FlushTlbAll(cpu);
        InitiatorFlushNs += IpiRound() + Costs.GlobalFlush.Ns(Costs.CpuGhz);
    }

    double IpiRound()
    {
        if (Tlb.Options.Invlpgb) return Costs.Invlpgb.Ns(Costs.CpuGhz);
        int targets = Tlb.OnlineCount - 1;
        return targets <= 0 ? 0 : Costs.IpiInitiatorBase.Ns(Costs.CpuGhz) + targets * Costs.IpiInitiatorPerTarget.Ns(Costs.CpuGhz);
    }

    public double InitiatorFlushNs { get; private set; }
    public double CopyNs { get; private set; }
    long _lastPageCachePfn = -1;

    public void FileCopy(in TraceEvent e, int pages)
    {
        CopyNs += pages * _copy4kNs + Costs.FileIoBase.Ns(Costs.CpuGhz);
        FileCopies++;
        FileCopyPages += pages;
        if (Spec.IsAsi)
        {
            // The page cache is not in the restricted map: the copy exits once (the task stays unrestricted until it
            // returns to user space), unless it goes through the mermap page by page.
            if (_mermap is not null) { MermapAccess(e.Cpu, pages); return; }
            AsiExit(e.Cpu, ExitCause.PageCache);
        }
        if (_lastPageCachePfn >= 0)
            for (int i = 0; i < pages; i++) Access(e.Cpu, DirectMap.VirtualAddress((ulong)(_lastPageCachePfn + i)), restricted: false);
    }

    public long FileCopies, FileCopyPages, CowCopies;

    /// <summary>The physical-memory map: per bucket of pageblocks (all zones, in pfn order), the fraction flagged
    /// (sensitive under asi-freetypes, unmapped under unmapped).</summary>
    public double[] PageblockMap(int buckets)
    {
        var zones = Allocator.Zones.Where(z => z is not null).Select(z => z!.Buddy).ToList();
        int total = zones.Sum(z => z.PageblockCount);
        buckets = Math.Max(1, Math.Min(buckets, total));
        var map = new double[buckets];
        for (int b = 0; b < buckets; b++)
        {
            int first = (int)((long)b * total / buckets), end = (int)((long)(b + 1) * total / buckets);
            double sum = 0; int n = 0;
            int offset = 0;
            foreach (var z in zones)
            {
                int lo = Math.Max(first - offset, 0), hi = Math.Min(end - offset, z.PageblockCount);
                if (hi > lo) { sum += z.FlaggedFraction(lo, hi) * (hi - lo); n += hi - lo; }
                offset += z.PageblockCount;
            }
            map[b] = n == 0 ? 0 : sum / n;
        }
        return map;
    }

    // Allocations by order (0–20), migratetype (0–7) and class, for the allocation-mix chart.
    readonly long[] _mix = new long[21 * 8 * 3];

    /// <summary>Allocations by order, migratetype and class.</summary>
    public Dictionary<(int Order, int Mt, Sensitivity Class), long> Mix
    {
        get
        {
            var d = new Dictionary<(int, int, Sensitivity), long>();
            for (int i = 0; i < _mix.Length; i++)
                if (_mix[i] != 0) d[(i / 24, i / 3 % 8, (Sensitivity)(i % 3))] = _mix[i];
            return d;
        }
    }

    /// <summary>The copy into a new sensitive user page goes through the direct map: an asi_exit under ASI, unless the
    /// mermap maps the source and the destination (two slots; the Aug 2025 ephmap had one and could not).</summary>
    void CopyOnWrite(int cpu, long pfn)
    {
        CowCopies++;
        CopyNs += _copy4kNs;
        if (Spec.IsAsi)
        {
            if (_mermap is not null && Knobs.MermapSlots >= 2) { MermapAccess(cpu, 2); return; }
            AsiExit(cpu, ExitCause.CopyOnWrite);
        }
        Access(cpu, DirectMap.VirtualAddress((ulong)pfn), restricted: false);
    }

    /// <summary>A pageblock changed freetype (<see cref="PageAllocator.OnConvert"/>): charge the mapping change.</summary>
    void OnConvert(int zone, long pfn, int order, int ft)
    {
        long n = 1L << order;
        int cpu = _cpu;
        ulong va = DirectMap.VirtualAddress((ulong)pfn);
        if (Spec.Kind == PolicyKind.AsiFreetypes)
        {
            if (Freetype.Flag(ft) == 0)
            {
                // Becoming nonsensitive: zero the block (it held sensitive data), then map it; Present 0 → 1 needs no flush.
                PageblockFlipsToNonsensitive += n >> 9;
                if (!Knobs.SkipZeroOnFlip) { Zero(cpu, pfn, n, inRestricted: false, exitIfUnmapped: true); PagesZeroedForFlip += n; }
                _cpaRestricted.Add(Restricted!.SetPresent((ulong)pfn, n, true), Tlb, cpu);
            }
            else
            {
                // Becoming sensitive: unmap from the restricted map and shoot the translation down everywhere (or, with
                // SensitiveFlushBatch > 1, once per batch of flips).
                PageblockFlipsToSensitive += n >> 9;
                _cpaRestricted.Add(Restricted!.SetPresent((ulong)pfn, n, false), Tlb, cpu);
                _pendingSensitiveFlips++;
                _pendingLo = Math.Min(_pendingLo, pfn);
                _pendingHi = Math.Max(_pendingHi, pfn + n);
                if (_pendingSensitiveFlips >= Math.Max(Knobs.SensitiveFlushBatch, 1)) FlushPendingFlips(cpu);
            }
        }
        else if (Spec.Kind == PolicyKind.Unmapped)
        {
            if (Freetype.Flag(ft) == 1)
            {
                // A whole pageblock leaves the direct map at once: one flush for 512 pages.
                UnmappedPageblocks += n >> 9;
                _cpaDirect.Add(DirectMap.SetPresent((ulong)pfn, n, false), Tlb, cpu);
                KernelFlush(cpu, va, va + (ulong)n * 4096);
            }
            else
            {
                // An idle unmapped pageblock back in the direct map: Present 0 → 1 needs no flush.
                UnmappedPageblocksReturned += n >> 9;
                _cpaDirect.Add(DirectMap.SetPresent((ulong)pfn, n, true), Tlb, cpu);
            }
        }
    }

    int _pendingSensitiveFlips;
    long _pendingLo = long.MaxValue, _pendingHi;
    public long UnmappedPageblocksReturned;
    long _nextReturn = long.MinValue;

    void FlushPendingFlips(int cpu)
    {
        if (_pendingSensitiveFlips == 0) return;
        KernelFlush(cpu, DirectMap.VirtualAddress((ulong)_pendingLo), DirectMap.VirtualAddress((ulong)_pendingHi));
        _pendingSensitiveFlips = 0;
        _pendingLo = long.MaxValue; _pendingHi = 0;
    }

    /// <summary>The unmapped pool's reserve: convert free pageblocks ahead of demand until the zone holds
    /// <see cref="PolicyKnobs.UnmappedReserve"/> free unmapped pageblocks.</summary>
    void TopUpUnmappedReserve(long pfn, int cpu)
    {
        if (Knobs.UnmappedReserve <= 0 || Allocator.ZoneOf(pfn) is not { } zone) return;
        int unmapped = Freetype.Make(Migratetype.Unmovable, 1);
        _cpu = cpu;
        while (zone.Buddy.FreePagesOfFreetype(unmapped) < (long)Knobs.UnmappedReserve << zone.Buddy.Options.PageblockOrder)
            if (zone.Buddy.ConvertFreePageblock(unmapped) < 0) break;
    }

    public void Observe(in TraceEvent e)
    {
        Allocator.Tick(e.TsNs);
        if (Spec.Kind == PolicyKind.Unmapped && Knobs.UnmappedReturnAfterMs > 0 && e.TsNs >= _nextReturn)
        {
            if (_nextReturn != long.MinValue)
            {
                _cpu = e.Cpu;
                foreach (var z in Allocator.Zones)
                    z?.Buddy.ReturnFreePageblocks(Freetype.Make(Migratetype.Unmovable, 1), Migratetype.Unmovable, Knobs.UnmappedReserve);
            }
            _nextReturn = e.TsNs + Knobs.UnmappedReturnAfterMs * 1_000_000L;
        }
        switch (e.Kind)
        {
            case EventKind.TlbFlush: TracedFlush(in e); break;
            case EventKind.SchedSwitch:
                if (Spec.IsAsi && (Knobs.ExitOnEveryContextSwitch || e.PrevPid != e.NextPid)) AsiExit(e.Cpu, ExitCause.ContextSwitch);
                break;
        }
    }

    public void PageCacheAccess(in TraceEvent e, long modelPfn, int pages)
    {
        _lastPageCachePfn = modelPfn;
        // Filling or copying a page-cache page goes through the direct map (page cache is sensitive under ASI).
        if (Spec.IsAsi)
        {
            if (_mermap is not null) { MermapAccess(e.Cpu, pages); return; }
            AsiExit(e.Cpu, ExitCause.PageCache);
        }
        for (int i = 0; i < pages; i++) Access(e.Cpu, DirectMap.VirtualAddress((ulong)(modelPfn + i)), restricted: false);
    }

    /// <summary>Zeroing n pages: through the mermap when the modifier is on and the pages are not mapped where the
    /// kernel runs; else through the direct map — an asi_exit first when ASI is on and they are absent from the
    /// restricted map.</summary>
    void Zero(int cpu, long pfn, long n, bool inRestricted, bool exitIfUnmapped)
    {
        BytesZeroed += n * 4096;
        ZeroingNs += n * _zero4kNs;
        if (Spec.IsAsi && exitIfUnmapped)
        {
            if (_mermap is not null) { MermapAccess(cpu, (int)Math.Min(n, int.MaxValue)); return; }
            AsiExit(cpu, ExitCause.Zeroing);
            inRestricted = false;
        }
        for (long i = 0; i < n; i++) Access(cpu, DirectMap.VirtualAddress((ulong)(pfn + i)), inRestricted && Restricted is not null);
    }

    void MermapZero(int cpu, long n)
    {
        BytesZeroed += n * 4096;
        ZeroingNs += n * _zero4kNs;
        _fallbackMermap ??= new Mermap(Tlb.Cpus.Length, Knobs.MermapWindowPages);
        MermapAccess(cpu, (int)Math.Min(n, int.MaxValue), _mermap ?? _fallbackMermap);
    }

    Mermap? _fallbackMermap;

    /// <summary>mermap_get()/mermap_put() for <paramref name="pages"/> pages: a fresh CPU-local virtual range (one TLB
    /// miss per page), and a local full flush whenever the bump allocator wraps.</summary>
    void MermapAccess(int cpu, int pages, Mermap? m = null)
    {
        m ??= _mermap!;
        int flushes = m.Get(cpu, pages);
        MermapPages += pages;
        MermapLocalFlushes += flushes;
        double ghz = Costs.CpuGhz;
        MermapNs += pages * Costs.PageWalk.Ns(ghz) + flushes * (Spec.IsAsi ? Costs.LocalFullFlush.Ns(ghz) : Costs.GlobalFlush.Ns(ghz));
    }

    void AsiExit(int cpu, ExitCause cause)
    {
        AsiExits[(int)cause]++;
        if (Knobs.FlushOnTransition) Tlb.Cpus[cpu % Tlb.Cpus.Length].FlushAllNonGlobal();
        AsiTransitionNs += _transitionNs;
    }

    /// <summary>What one asi_exit and the asi_enter after it cost under the preset's taint/flush policy: control flushes
    /// on the way out (prevent_control), data flushes on the way back in (protect_data). Constant per engine.</summary>
    static double TransitionNs(CostModel costs, PolicyKnobs knobs)
    {
        double ghz = costs.CpuGhz;
        double ns = costs.AsiExit.Ns(ghz) + costs.AsiEnter.Ns(ghz);
        if (knobs.Ibpb) ns += costs.Ibpb.Ns(ghz);
        if (knobs.RsbStuff) ns += costs.RsbStuff.Ns(ghz);
        if (knobs.L1dFlush) ns += costs.L1dFlush.Ns(ghz);
        if (knobs.Verw) ns += costs.Verw.Ns(ghz);
        if (knobs.FlushOnTransition) ns += 2 * costs.LocalFullFlush.Ns(ghz);
        return ns;
    }

    /// <summary>Kernel loads by address space, and those that missed every TLB level (a page walk).</summary>
    public readonly long[] Accesses = new long[2], AccessMisses = new long[2];

    void Access(int cpu, ulong va, bool restricted)
    {
        if ((uint)cpu >= (uint)Tlb.Cpus.Length) cpu %= Tlb.Cpus.Length;
        bool r = restricted && Restricted is not null;
        var outcome = Tlb.TranslateKernel(cpu, va, r, out _);
        int space = r ? 1 : 0;
        Accesses[space]++;
        if (outcome is TlbOutcome.Walk or TlbOutcome.Fault) AccessMisses[space]++;
    }

    void TracedFlush(in TraceEvent e)
    {
        double ghz = Costs.CpuGhz;
        double Flush(long pages)
        {
            if (pages < 0 || pages > 33) { TracedFullFlushes++; return Costs.LocalFullFlush.Ns(ghz); }
            TracedSinglePages += pages;
            return pages * Costs.InvlpgPerPage.Ns(ghz);
        }
        switch (e.TlbReason)
        {
            case 0: TracedTlbNs += Flush(-1); break;
            case 1: TracedIpisReceived++; TracedTlbNs += Costs.IpiPerTarget.Ns(ghz) + Costs.IpiInitiatorPerTarget.Ns(ghz) + Flush(e.TlbPages); break;
            case 2: case 3: TracedTlbNs += Flush(e.TlbPages); break;
            case 4: TracedIpisSent++; TracedTlbNs += Costs.IpiInitiatorBase.Ns(ghz); break;
            case 5: TracedIpisReceived++; TracedTlbNs += Costs.IpiPerTarget.Ns(ghz) + Costs.IpiInitiatorPerTarget.Ns(ghz); break;
        }
    }

    /// <summary>Finishes queued work (the RFC's pending unmaps) at the end of the trace.</summary>
    public void Finish()
    {
        if (_rfcPending.Count > 0) RfcUnmapWork(_cpu);
        FlushPendingFlips(_cpu);
    }

    // ---- metrics ----

    long Walks()
    {
        long w = 0;
        foreach (var c in Tlb.Cpus) w += c.Walks;
        return w;
    }

    public FlushCounters ModelFlushes
    {
        get
        {
            var c = Tlb.Counters;
            return new FlushCounters
            {
                IpisSent = c.IpisSent - _flushBase.IpisSent, IpisReceived = c.IpisReceived - _flushBase.IpisReceived,
                Invlpg = c.Invlpg - _flushBase.Invlpg, LocalFullFlushes = c.LocalFullFlushes - _flushBase.LocalFullFlushes,
                GlobalFlushes = c.GlobalFlushes - _flushBase.GlobalFlushes, InvlpgbBroadcasts = c.InvlpgbBroadcasts - _flushBase.InvlpgbBroadcasts,
                KernelRangeFlushes = c.KernelRangeFlushes - _flushBase.KernelRangeFlushes,
                KernelSinglePageFlushes = c.KernelSinglePageFlushes - _flushBase.KernelSinglePageFlushes,
                KernelFullFlushes = c.KernelFullFlushes - _flushBase.KernelFullFlushes,
            };
        }
    }

    public double FlushNs => Costs.FlushNs(ModelFlushes);
    public double CpaNs => (_cpaDirect.TablePages + _cpaRestricted.TablePages) * Costs.TablePageAlloc.Ns(Costs.CpuGhz);
    public double WalkNs => Walks() * Costs.PageWalk.Ns(Costs.CpuGhz);
    /// <summary>CPU time of the replayed work on all CPUs (IPI handling on the targets included).</summary>
    public double EstimatedNs => ZeroingNs + CopyNs + TracedTlbNs + AsiTransitionNs + MermapNs + FlushNs + CpaNs + WalkNs;
    /// <summary>Time on the CPUs that issued the work (flush initiators wait for their targets; the targets' handling is
    /// not counted): what a latency such as Firecracker's populate time is made of.</summary>
    public double LatencyNs => ZeroingNs + CopyNs + TracedTlbNs + AsiTransitionNs + MermapNs + InitiatorFlushNs + CpaNs + WalkNs;

    /// <summary>Every metric of this policy, snake_case (README, Replay metrics).</summary>
    public void AddMetrics(IDictionary<string, double> m)
    {
        var f = ModelFlushes;
        m["bytes_zeroed"] = BytesZeroed;
        m["pages_zeroed_for_flips"] = PagesZeroedForFlip;
        m["pageblock_flips"] = PageblockFlipsToNonsensitive + PageblockFlipsToSensitive;
        m["pageblock_flips_to_nonsensitive"] = PageblockFlipsToNonsensitive;
        m["pageblock_flips_to_sensitive"] = PageblockFlipsToSensitive;
        m["unmapped_pageblocks"] = UnmappedPageblocks;
        m["per_allocation_unmaps"] = PerAllocationUnmaps;
        m["unmapped_pageblocks_returned"] = UnmappedPageblocksReturned;
        m["direct_map_splits_1g"] = _cpaDirect.Splits1G(DirectMap);
        m["direct_map_splits_2m"] = _cpaDirect.Splits2M(DirectMap);
        m["restricted_map_splits_2m"] = Restricted is null ? 0 : _cpaRestricted.Splits2M(Restricted);
        m["page_table_pages"] = _cpaDirect.TablePages + _cpaRestricted.TablePages;
        m["direct_map_4k_pages"] = DirectMap.Pages[1];
        m["direct_map_2m_pages"] = DirectMap.Pages[2];
        m["direct_map_1g_pages"] = DirectMap.Pages[3];
        if (Restricted is not null) { m["restricted_map_4k_pages"] = Restricted.Pages[1]; m["restricted_map_2m_pages"] = Restricted.Pages[2]; }
        m["kernel_range_flushes"] = f.KernelRangeFlushes;
        m["kernel_range_flushes_single"] = f.KernelSinglePageFlushes;
        m["kernel_range_flushes_full"] = f.KernelFullFlushes;
        m["tlb_flush_all"] = f.GlobalFlushes;
        m["ipis_sent"] = f.IpisSent;
        m["ipis_received"] = f.IpisReceived;
        m["tlb_misses"] = Walks();
        m["tlb_accesses_unrestricted"] = Accesses[0];
        m["tlb_accesses_restricted"] = Accesses[1];
        m["tlb_misses_unrestricted"] = AccessMisses[0];
        m["tlb_misses_restricted"] = AccessMisses[1];
        m["tlb_misses_walk_4k"] = Tlb.Cpus.Sum(c => c.WalksByLeafLevel[1]);
        m["tlb_misses_walk_2m"] = Tlb.Cpus.Sum(c => c.WalksByLeafLevel[2]);
        m["tlb_misses_walk_1g"] = Tlb.Cpus.Sum(c => c.WalksByLeafLevel[3]);
        m["asi_exits"] = AsiExits.Sum();
        m["asi_exits_page_cache"] = AsiExits[(int)ExitCause.PageCache];
        m["asi_exits_zeroing"] = AsiExits[(int)ExitCause.Zeroing];
        m["asi_exits_cow"] = AsiExits[(int)ExitCause.CopyOnWrite];
        m["asi_exits_context_switch"] = AsiExits[(int)ExitCause.ContextSwitch];
        m["asi_exits_other"] = AsiExits[(int)ExitCause.Other];
        m["mermap_pages"] = MermapPages;
        m["mermap_local_flushes"] = MermapLocalFlushes;
        m["tlb_shootdown_ipis"] = TracedIpisReceived;
        m["tlb_shootdowns_sent"] = TracedIpisSent;
        m["tlb_flushes_full"] = TracedFullFlushes;
        m["tlb_flush_pages_single"] = TracedSinglePages;
        m["extfrag"] = Allocator.CountEvents(AllocatorEventKind.Extfrag);
        m["zone_locked"] = Allocator.CountEvents(AllocatorEventKind.ZoneLocked);
        m["pcpu_drain"] = Allocator.CountEvents(AllocatorEventKind.PcpuDrain);
        m["free_pages"] = Allocator.FreePages;
        long big = 0;
        foreach (var z in Allocator.Zones)
            if (z is not null)
                for (int o = z.Buddy.Options.PageblockOrder; o <= z.Buddy.Options.MaxPageOrder; o++) big += z.Buddy.NrFree(o) << o;
        m["free_pages_in_2m_blocks"] = big;
        m["allocs_below_low_watermark"] = Allocator.AllocsBelowLow;
        m["allocs_below_min_watermark"] = Allocator.AllocsBelowMin;
        m["model_allocation_failures"] = ModelFailures;
        m["latency_ns"] = LatencyNs;
        m["file_copies"] = FileCopies;
        m["file_copy_pages"] = FileCopyPages;
        m["cow_copies"] = CowCopies;
        m["cost_copy_ns"] = CopyNs;
        m["cost_zeroing_ns"] = ZeroingNs;
        m["cost_tlb_ns"] = TracedTlbNs;
        m["cost_asi_transitions_ns"] = AsiTransitionNs;
        m["cost_mermap_ns"] = MermapNs;
        m["cost_model_flushes_ns"] = FlushNs;
        m["cost_page_table_pages_ns"] = CpaNs;
        m["cost_tlb_misses_ns"] = WalkNs;
    }

    /// <summary>Split and table-page counts of CPA calls, minus what the initial layout did.</summary>
    sealed class CpaTotals
    {
        long _l2Base, _l3Base;
        public long TablePages;
        public PolicyEngine Owner = null!;
        public void Baseline(DirectMap m) { _l2Base = m.Level2Splits; _l3Base = m.Level3Splits; }
        public long Splits2M(DirectMap m) => m.Level2Splits - _l2Base;
        public long Splits1G(DirectMap m) => m.Level3Splits - _l3Base;
        /// <summary>A split flushes the whole TLB everywhere (<c>__split_large_page</c> → <c>flush_tlb_all()</c>).</summary>
        public void Add(CpaResult r, TlbMachine tlb, int cpu)
        {
            TablePages += r.TablePages;
            for (int i = 0; i < r.SplitFlushes; i++) Owner.FlushAll(cpu);
        }
    }
}

/// <summary>
/// The mermap's per-CPU bump allocator (model-reference.md §7.3): each get takes fresh virtual pages from the window;
/// when it runs out, the pointer resets and the CPU flushes its TLB locally (no IPIs).
/// </summary>
public sealed class Mermap(int cpus, int windowPages)
{
    readonly int[] _next = new int[cpus];

    /// <summary>Maps <paramref name="pages"/> pages on <paramref name="cpu"/>; returns the local flushes it needed.</summary>
    public int Get(int cpu, int pages)
    {
        cpu %= _next.Length;
        int flushes = 0;
        while (pages > 0)
        {
            int take = Math.Min(pages, windowPages);
            if (_next[cpu] + take > windowPages) { _next[cpu] = 0; flushes++; }
            _next[cpu] += take;
            pages -= take;
        }
        return flushes;
    }
}
