using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Paging;
using AsiTrace.Model.Tlb;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Asi;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Machines;

/// <summary>
/// One policy's machine: the page allocator (with the policy's freetype layout), the unrestricted direct map, ASI's
/// restricted map, the vmemmap, the per-CPU TLBs, the mermap and the cost ledger, fed the shared request stream. It does
/// what every policy does alike (places pages, touches <c>struct page</c>, charges copies and zeroing, replays traced
/// flushes) and asks its <see cref="IPolicy"/> at each point where policies differ. Every kernel memory access an event
/// implies goes through the TLB model. Costs are data; nothing is timed.
/// </summary>
public sealed class Machine : IRequestSink
{
    /// <summary>The outermost policy (a wrapper such as <c>+mermap</c> included).</summary>
    public IPolicy Policy { get; }
    public PolicySpec Spec { get; }
    public PolicyKnobs Knobs { get; }
    public PageAllocator Allocator { get; }
    public DirectMap DirectMap { get; }
    /// <summary>ASI's restricted direct map; null when the policy runs without ASI.</summary>
    public DirectMap? Restricted { get; }
    public TlbMachine Tlb { get; }
    public CostModel Costs { get; }
    public CostLedger Ledger { get; }
    public MachineCounters Counters { get; } = new();
    public AllocationMix Mix { get; } = new();
    /// <summary>Who caused each cost (docs/attribution.md).</summary>
    public Attribution Attribution { get; }
    /// <summary>The modelled CPU time of the last <see cref="Alloc"/>.</summary>
    public double LastAllocCostNs { get; private set; }
    // The task and call site of the event being handled: frees and the event's own work are theirs.
    Actor _eventActor = Actor.Start;
    public string Name => Policy.Name;
    public bool IsAsi { get; }
    /// <summary>Which address space each CPU runs the kernel in; null without ASI.</summary>
    public AsiCpuState? Asi { get; }
    /// <summary>Treat the trace's entry events as absent (<see cref="PolicyKnobs.InferEntries"/>).</summary>
    public bool IgnoreEntryEvents { get; init; }
    /// <summary>The trace's kernel entries, per CPU.</summary>
    public KernelEntries Entries { get; }
    /// <summary>Frames the per-page state covers.</summary>
    public long PfnLimit { get; }
    /// <summary><c>--placement trace</c>: pages stay at the pfns the trace shows; the allocator model is not asked (its
    /// state does not follow), so only the MMU-side costs of where pages really were are modelled.</summary>
    public bool TracePlacement { get; }

    // The 4-level vmemmap base (Documentation/arch/x86/x86_64/mm.rst); 64 bytes of struct page per frame.
    const ulong VmemmapBase = 0xffff_ea00_0000_0000UL;
    const int StructPageBytes = 64;
    // Per pfn: class + 1 of the allocation holding it, HeldBeforeTrace for pages the model held when the replay began,
    // 0 for pages the model does not hold (free, on a pcp list, or queued to be freed).
    readonly byte[] _pageClass;
    const byte HeldBeforeTrace = 0xFF;
    readonly CpaTotals _cpaDirect, _cpaRestricted;
    readonly FlushCounters _flushBase;
    readonly (CostConstant Constant, double Count)[] _transition;   // one asi_exit + asi_enter with the runtime's flushes
    readonly AsiRuntimeConfig? _runtime;
    Mermap? _mermap;
    long _nextPolicyTick = long.MinValue;
    int _lastCpu;

    /// <param name="syscallsTraced">the trace has every system call's entry and return (<see cref="KernelEntries"/>).</param>
    /// <param name="faultsTraced">the trace has the user page faults.</param>
    public Machine(IPolicy policy, PolicySpec spec, PolicyKnobs knobs, PageAllocator allocator, IReadOnlyList<PhysRange> ram,
        long pfnLimit, int cpus, CpuPreset preset, CostModel costs, bool tracePlacement, bool syscallsTraced = false, bool faultsTraced = false)
    {
        Policy = policy; Spec = spec; Knobs = knobs; Allocator = allocator; Costs = costs; PfnLimit = pfnLimit;
        Ledger = new CostLedger(costs);
        Attribution = new Attribution(costs);
        Ledger.Attribution = Attribution;
        Attribution.Begin(in Actor.Start);
        TracePlacement = tracePlacement;
        IsAsi = policy.IsAsi;
        _runtime = policy.Runtime;
        _transition = _runtime is null ? [] : TransitionCounts(_runtime);
        if (IsAsi) Asi = new AsiCpuState(cpus);
        Entries = new KernelEntries(cpus, syscallsTraced, faultsTraced);
        DirectMap = DirectMap.Build(ram, new DirectMapOptions { Global = !IsAsi });
        if (IsAsi) Restricted = DirectMap.Build(ram, new DirectMapOptions { Restricted = true });
        _pageClass = new byte[pfnLimit];
        MarkHeldPages(allocator, _pageClass);
        policy.Start(this);
        MapVmemmap(DirectMap.Tables, pfnLimit, global: !IsAsi);
        if (Restricted is not null) MapVmemmap(Restricted.Tables, pfnLimit, global: false);
        Tlb = new TlbMachine(preset, Math.Max(cpus, 1), DirectMap.Tables, new TlbOptions
        {
            GlobalPages = !IsAsi, InvalidateOther = IsAsi, Invlpgb = knobs.Invlpgb && preset.Invlpgb,
        }) { Restricted = Restricted?.Tables };
        allocator.OnConvert = (cpu, zone, pfn, order, ft) => Policy.OnConvert(this, cpu, new Pfn(pfn), order, ft);
        // What the initial layout cost is not the replay's: counters start from here.
        _cpaDirect = new CpaTotals(this, DirectMap);
        _cpaRestricted = new CpaTotals(this, Restricted);
        _flushBase = Tlb.Counters.Copy();
        if (spec.Mermap || policy.Layout == FreetypeLayout.Unmapped) _mermap = new Mermap(Math.Max(cpus, 1), knobs.MermapWindowPages);
        Attribution.End();
    }

    /// <summary>Every page the allocator model does not have free (on a free list or a pcp list) is held.</summary>
    static void MarkHeldPages(PageAllocator allocator, byte[] pageClass)
    {
        Array.Fill(pageClass, HeldBeforeTrace);
        void Clear(long pfn, int order)
        {
            long end = Math.Min(pfn + (1L << order), pageClass.Length);
            if (pfn >= 0 && pfn < end) pageClass.AsSpan((int)pfn, (int)(end - pfn)).Clear();
        }
        foreach (var z in allocator.Zones)
        {
            if (z is null) continue;
            foreach (var (pfn, order) in z.Buddy.FreeBlocks()) Clear(pfn, order);
            foreach (var pcp in z.Pcp) foreach (var (pfn, order) in pcp.Blocks()) Clear(pfn, order);
        }
    }

    /// <summary>The vmemmap (64-byte <c>struct page</c> per frame) mapped with 2 MiB leaves, as <c>vmemmap_populate</c> does.</summary>
    static void MapVmemmap(PageTables tables, long pfnLimit, bool global)
    {
        long bytes = pfnLimit * StructPageBytes;
        var flags = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Nx | (global ? Pte.Global : Pte.None);
        // Backed by frames past the end of RAM: the model only translates these addresses, never allocates them.
        ulong pmdPages = (ulong)PageLevel.Pages(PageLevel.Pmd), backing = (ulong)pfnLimit + pmdPages;
        for (long off = 0; off < bytes; off += 2 << 20, backing += pmdPages)
            tables.MapLeaf(VmemmapBase + (ulong)off, PageLevel.Pmd, backing, flags);
    }

    static VirtAddr StructPage(Pfn pfn) => new(VmemmapBase + (ulong)pfn.Value * StructPageBytes);

    // ---- the request stream (IRequestSink) ----

    public long Alloc(in AllocRequest r)
    {
        Attribution.Begin(Actor.Of(in r));
        long placed = Place(in r);
        LastAllocCostNs = Attribution.End();
        return placed;
    }

    long Place(in AllocRequest r)
    {
        var ft = Policy.FreetypeFor(in r);
        var always = Policy.AlwaysFlags(in r);
        _lastCpu = r.Cpu;
        Mix.Add(in r);
        // Without traced user faults, a user page allocated outside a system call is a fault: a kernel entry.
        if (r.Reason is ClassReason.Hardwall or ClassReason.PageCache && Entries.UserPageAllocated(r.Cpu, r.Pid))
            Policy.OnKernelEntry(this, r.Cpu, userTask: true);
        if (r.Isolated)
        {
            // Pages stay at traced pfns under --placement trace, and compaction's targets have none.
            if (TracePlacement) return -1;
            long isolated = Allocator.IsolateFreePage(r.HighestZoneIdx, ft);
            if (isolated < 0) { Counters.CompactionTargetsNotFound++; return -1; }
            _pageClass.AsSpan((int)Math.Min(isolated, int.MaxValue), 1).Fill((byte)(r.Class + 1));
            Policy.OnAlloc(this, in r, new Pfn(isolated), 1, zero: false);
            return isolated;
        }
        long placed = TracePlacement ? r.TracePfn
            : Allocator.Alloc(r.Cpu, r.Order, r.HighestZoneIdx, ft, SlowPathFlags(r.Gfp, r.Order), always);
        if (TracePlacement && (placed < 0 || placed + (1L << r.Order) > _pageClass.Length)) { Counters.ModelFailures++; return -1; }
        if (placed < 0 && !TracePlacement && IsSlabHighOrderAttempt(r.Gfp, r.Order))
        {
            // allocate_slab(): the high-order attempt runs without reclaim (__GFP_NORETRY|__GFP_NOWARN, no
            // __GFP_DIRECT_RECLAIM), and when it fails slab takes its minimum order with the caller's flags. Under ASI
            // that first attempt may not flip a pageblock (ALLOC_NOBLOCK) where the traced kernel had no reason to fail.
            // The minimum order is the cache's; order 0 here (the trace does not name the cache).
            var retry = r with { Order = 0, Gfp = r.Gfp | (ulong)Gfp.DirectReclaim };
            placed = Allocator.Alloc(r.Cpu, 0, r.HighestZoneIdx, ft, SlowPathFlags(retry.Gfp, 0), always);
            if (placed >= 0)
            {
                Counters.SlabRetriesAtOrder0++;
                _shrunkSlabs[placed] = (byte)r.Order;
                return Placed(in retry, placed);
            }
        }
        if (placed < 0) { Counters.ModelFailures++; return -1; }
        return Placed(in r, placed);
    }

    /// <summary>Slab's opportunistic high-order attempt (<c>allocate_slab()</c>): order above 0, __GFP_NORETRY and
    /// __GFP_NOWARN, no direct reclaim.</summary>
    static bool IsSlabHighOrderAttempt(ulong gfp, int order) =>
        order > 0 && (gfp & (ulong)(Gfp.NoRetry | Gfp.NoWarn)) == (ulong)(Gfp.NoRetry | Gfp.NoWarn) && (gfp & (ulong)Gfp.DirectReclaim) == 0;

    // Slabs the model placed at order 0 after a refused high-order attempt: model pfn → the order the trace allocated,
    // so the traced free of the whole block frees the one page.
    readonly Dictionary<long, byte> _shrunkSlabs = new();

    long Placed(in AllocRequest r, long placed)
    {
        var pfn = new Pfn(placed);
        long n = 1L << r.Order;
        Access(r.Cpu, StructPage(pfn), RunsRestricted(r.Cpu));
        _pageClass.AsSpan((int)Math.Min(placed, int.MaxValue), (int)n).Fill((byte)(r.Class + 1));
        bool zero = (r.Gfp & (ulong)Gfp.Zero) != 0;
        // A user page allocated without __GFP_ZERO and not for the page cache is filled by copying another page:
        // copy-on-write (wp_page_copy) is the common case (anonymous faults zero; swap-in and migration also copy).
        if (r.Reason == ClassReason.Hardwall && !zero && r.Order == 0 && r.Migratetype == Migratetype.Movable && IsUserFaultGfp(r.Gfp)) CopyOnWrite(r.Cpu, pfn);
        Policy.OnAlloc(this, in r, pfn, n, zero);
        return placed;
    }

    /// <summary>A fault's user page: <c>wp_page_copy()</c> and the other copying faults allocate with
    /// <c>GFP_HIGHUSER_MOVABLE</c>, which has __GFP_IO and __GFP_FS and may retry. A readahead page
    /// (<c>readahead_gfp_mask()</c>: __GFP_NORETRY|__GFP_NOWARN, and GFP_NOFS under a filesystem) is not one, even
    /// when the trace never shows it entering the page cache.</summary>
    static bool IsUserFaultGfp(ulong gfp) =>
        (gfp & (ulong)(Gfp.Io | Gfp.Fs)) == (ulong)(Gfp.Io | Gfp.Fs) && (gfp & (ulong)Gfp.NoRetry) == 0;

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
        Attribution.Begin(_eventActor with { Kind = ActorKind.Free, Order = r.Order });
        Release(in r, modelPfn);
        Attribution.End();
    }

    void Release(in FreeRequest r0, long modelPfn)
    {
        var r = r0;
        if (_shrunkSlabs.Count > 0 && _shrunkSlabs.Remove(modelPfn, out byte traced) && r.Order == traced) r = r with { Order = 0 };
        long n = 1L << r.Order;
        _lastCpu = r.Cpu;
        // free_pages_prepare() refuses a page that is not in use (bad_page()): a second free of one page, or a block not
        // aligned to its order, would corrupt the buddy lists. The request stream is consistent by construction
        // (RequestReconstructor); this holds the model even if it is not.
        if ((modelPfn & (n - 1)) != 0 || modelPfn < 0 || modelPfn + n > _pageClass.Length || !AllHeld(modelPfn, n))
        {
            Counters.FreesOfPagesNotHeld++;
            return;
        }
        var pfn = new Pfn(modelPfn);
        Access(r.Cpu, StructPage(pfn), RunsRestricted(r.Cpu));
        byte stored = _pageClass[modelPfn];
        var cls = stored == HeldBeforeTrace ? (Sensitivity?)null : (Sensitivity)(stored - 1);
        _pageClass.AsSpan((int)modelPfn, (int)n).Clear();
        if (Policy.OnFree(this, in r, pfn, n, cls) && !TracePlacement) Allocator.Free(r.Cpu, modelPfn, r.Order);
    }

    bool AllHeld(long pfn, long n)
    {
        if (n == 1) return _pageClass[pfn] != 0;
        return !_pageClass.AsSpan((int)pfn, (int)n).Contains((byte)0);
    }

    public void Observe(in TraceEvent e)
    {
        _eventActor = Actor.Of(in e);
        Attribution.Begin(in _eventActor);
        Handle(in e);
        Attribution.End();
    }

    void Handle(in TraceEvent e)
    {
        Allocator.Tick(e.TsNs);
        if (e.TsNs >= _nextPolicyTick) _nextPolicyTick = Policy.OnTick(this, in e);
        Entries.Learn(in e);
        var kind = IgnoreEntryEvents && e.Kind is EventKind.SysEnter or EventKind.SysExit or EventKind.PageFaultUser ? EventKind.None : e.Kind;
        switch (kind)
        {
            case EventKind.TlbFlush: TracedFlush(in e); break;
            case EventKind.SchedSwitch: Policy.OnContextSwitch(this, in e, Entries.Switch(e.Cpu, e.NextPid)); break;
            case EventKind.SysRead or EventKind.SysWrite or EventKind.SysEnter:
                if (Entries.EntryEvent(e.Cpu, e.Pid, syscall: true)) Policy.OnKernelEntry(this, e.Cpu, userTask: true);
                break;
            case EventKind.PageFaultUser:
                if (Entries.EntryEvent(e.Cpu, e.Pid, syscall: false)) Policy.OnKernelEntry(this, e.Cpu, userTask: true);
                break;
            // A guest's exit enters the host kernel for the vCPU task; kvm_entry returns to the guest.
            case EventKind.KvmExit:
                if (Entries.EntryEvent(e.Cpu, e.Pid, syscall: false, guest: true)) Policy.OnKernelEntry(this, e.Cpu, userTask: true);
                break;
            case EventKind.KvmEntry: Entries.GuestEntered(e.Cpu, e.Pid); break;
            case EventKind.SysExit: Entries.Returned(e.Cpu, e.Pid); break;
            default:
                if (e.Has(EventFields.Pid) && Entries.OtherEvent(e.Cpu, e.Pid) is { } user) Policy.OnKernelEntry(this, e.Cpu, user);
                break;
        }
    }

    Pfn _lastPageCachePfn = new(-1);

    public void PageCacheAccess(in TraceEvent e, long modelPfn, int pages)
    {
        Attribution.Begin(in _eventActor);
        _lastPageCachePfn = new Pfn(modelPfn);
        Policy.OnPageCacheAccess(this, e.Cpu, _lastPageCachePfn, pages);
        Attribution.End();
    }

    public void FileCopy(in TraceEvent e, int pages)
    {
        Attribution.Begin(in _eventActor);
        Ledger.Charge(CostCause.Copy, CostConstant.Copy4K, pages);
        Ledger.Charge(CostCause.Copy, CostConstant.FileIoBase, 1);
        Counters.FileCopies++;
        Counters.FileCopyPages += pages;
        Attribution.AddCount(Attribution.FileCopyPagesSlot, pages);
        Policy.OnFileCopy(this, e.Cpu, pages);
        Attribution.End();
    }

    /// <summary>Finishes queued work (the policies' deferred unmaps and flushes) at the end of the trace.</summary>
    public void Finish()
    {
        Attribution.Begin(in Actor.End);
        Policy.Finish(this, _lastCpu);
        Attribution.End();
    }

    // ---- mechanisms the policies use ----

    /// <summary>Clearing <paramref name="pages"/> pages, as the policy reaches them (<see cref="IPolicy.OnZero"/>).</summary>
    public void Zero(int cpu, Pfn pfn, long pages, bool inRestricted) => Policy.OnZero(this, cpu, pfn, pages, inRestricted);

    /// <summary>Charges clearing <paramref name="pages"/> pages (bytes and time), however they are reached.</summary>
    public void ChargeZeroing(long pages)
    {
        Counters.BytesZeroed += pages * 4096;
        Attribution.AddCount(Attribution.BytesZeroedSlot, pages * 4096);
        Ledger.Charge(CostCause.Zeroing, CostConstant.Zero4K, pages);
    }

    /// <summary>Clearing pages that no kernel mapping covers (<c>__GFP_UNMAPPED | __GFP_ZERO</c>): through the mermap.</summary>
    public void ZeroThroughMermap(int cpu, long pages)
    {
        ChargeZeroing(pages);
        MapThroughMermap(cpu, (int)Math.Min(pages, int.MaxValue));
    }

    void CopyOnWrite(int cpu, Pfn pfn)
    {
        Counters.CowCopies++;
        Attribution.AddCount(Attribution.CowSlot, 1);
        Ledger.Charge(CostCause.Copy, CostConstant.Copy4K, 1);
        Policy.OnCopyOnWrite(this, cpu, pfn);
    }

    /// <summary>Loads through the direct map of <paramref name="pages"/> pages at <paramref name="pfn"/>, in the
    /// restricted or the unrestricted address space.</summary>
    public void TouchDirectMap(int cpu, Pfn pfn, long pages, bool restricted)
    {
        bool r = restricted && Restricted is not null;
        for (long i = 0; i < pages; i++) Access(cpu, DirectMap.VirtualAddress(pfn.Plus(i)), r);
    }

    /// <summary>Loads of the page-cache pages a read()/write() copies: the trace does not say which, so the last filled
    /// page-cache pages stand for them (none before the first fill).</summary>
    public void TouchLastPageCachePages(int cpu, int pages)
    {
        if (_lastPageCachePfn.Value >= 0) TouchDirectMap(cpu, _lastPageCachePfn, pages, restricted: false);
    }

    /// <summary>Kernel loads by address space (0 unrestricted, 1 restricted), and those that missed every TLB level.</summary>
    public readonly long[] Accesses = new long[2], AccessMisses = new long[2];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Access(int cpu, VirtAddr va, bool restricted)
    {
        if ((uint)cpu >= (uint)Tlb.CpuCount) cpu %= Tlb.CpuCount;
        bool r = restricted && Restricted is not null;
        var outcome = Tlb.TranslateKernel(cpu, va.Value, r, out _);
        int space = r ? 1 : 0;
        Accesses[space]++;
        if (outcome is TlbOutcome.Walk or TlbOutcome.Fault)
        {
            AccessMisses[space]++;
            Attribution.AddWalk();
        }
    }

    /// <summary>Does the kernel on <paramref name="cpu"/> run in the restricted address space now?</summary>
    public bool RunsRestricted(int cpu) => Asi is { } a && a.IsRestricted(cpu);

    /// <summary>The kernel on <paramref name="cpu"/> touches memory the restricted map lacks, for
    /// <paramref name="cause"/>: an <c>asi_exit</c> if the CPU still runs restricted since its last kernel entry, nothing
    /// if it already left.</summary>
    public void LeaveRestricted(int cpu, ExitCause cause)
    {
        if (Asi is { } a && a.Leave(cpu)) AsiExit(cpu, cause);
    }

    /// <summary>One <c>asi_exit</c> (and the <c>asi_enter</c> after it, on the return to user space) for <paramref name="cause"/>.</summary>
    void AsiExit(int cpu, ExitCause cause)
    {
        Counters.AsiExits[(int)cause]++;
        Attribution.AddCount(Attribution.ExitSlot(cause), 1);
        Counters.ExitsByEntry[(int)Entries.CurrentKind(cpu)]++;
        if (_runtime is { FlushOnTransition: true }) Tlb.Cpu(cpu % Tlb.CpuCount).FlushAllNonGlobal();
        foreach (var (k, n) in _transition) Ledger.Charge(CostCause.AsiTransitions, k, n);
    }

    /// <summary>What one asi_exit and the asi_enter after it cost under the runtime's mitigations: control flushes on
    /// the way out (IBPB, RSB stuffing), data flushes on the way back in (L1D flush, VERW), and two TLB flushes when
    /// transitions flush. Constant per machine.</summary>
    static (CostConstant, double)[] TransitionCounts(AsiRuntimeConfig c)
    {
        (CostConstant, double)[] all =
        [
            (CostConstant.AsiExit, 1), (CostConstant.AsiEnter, 1), (CostConstant.Ibpb, c.Ibpb ? 1 : 0), (CostConstant.RsbStuff, c.RsbStuff ? 1 : 0),
            (CostConstant.L1dFlush, c.L1dFlush ? 1 : 0), (CostConstant.Verw, c.Verw ? 1 : 0), (CostConstant.LocalFullFlush, c.FlushOnTransition ? 2 : 0),
        ];
        return Array.FindAll(all, t => t.Item2 > 0);
    }

    /// <summary><c>mermap_get()</c>/<c>mermap_put()</c> for <paramref name="pages"/> pages: a fresh CPU-local virtual
    /// range (one TLB miss per page), and a local full flush whenever the window wraps.</summary>
    public void MapThroughMermap(int cpu, int pages)
    {
        _mermap ??= new Mermap(Tlb.CpuCount, Knobs.MermapWindowPages);
        int flushes = _mermap.Get(cpu, pages);
        Counters.MermapPages += pages;
        Attribution.AddCount(Attribution.MermapPagesSlot, pages);
        Counters.MermapLocalFlushes += flushes;
        Ledger.Charge(CostCause.Mermap, CostConstant.PageWalk, pages);
        Ledger.Charge(CostCause.Mermap, IsAsi ? CostConstant.LocalFullFlush : CostConstant.GlobalFlush, flushes);
    }

    /// <summary>The Aug 2025 ephmap for <paramref name="pages"/> pages: a CPU-local mapping (one TLB miss per page),
    /// torn down with an INVLPG per page (a local full flush above the single-page ceiling); no IPIs.</summary>
    public void MapThroughEphmap(int cpu, int pages)
    {
        Counters.EphmapPages += pages;
        Ledger.Charge(CostCause.Mermap, CostConstant.PageWalk, pages);
        if (pages > Tlb.Options.FlushCeiling) Ledger.Charge(CostCause.Mermap, CostConstant.LocalFullFlush, 1);
        else Ledger.Charge(CostCause.Mermap, CostConstant.InvlpgPerPage, pages);
    }

    /// <summary><c>flush_tlb_kernel_range()</c>, and what it costs the initiating CPU (its wait is the caller's latency):
    /// the IPI round (or an INVLPGB broadcast) plus its own INVLPGs or full flush. The targets' handling is CPU time
    /// (<see cref="CostCause.ModelFlushes"/>), not the caller's latency.</summary>
    public void KernelFlush(int cpu, VirtAddr start, VirtAddr end)
    {
        cpu %= Tlb.CpuCount;
        var before = Tlb.Counters.Tally();
        Tlb.FlushTlbKernelRange(cpu, start.Value, end.Value);
        Attribution.AddFlushes(Tlb.Counters.Tally() - before);
        long pages = (long)((end.Value - start.Value + 4095) >> 12);
        ChargeIpiRound();
        if (pages > Tlb.Options.FlushCeiling) Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.GlobalFlush, 1);
        else Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.InvlpgPerPage, pages);
    }

    /// <summary><see cref="KernelFlush"/> over the direct-map addresses of [<paramref name="first"/>, <paramref name="end"/>).</summary>
    public void KernelFlush(int cpu, Pfn first, Pfn end) => KernelFlush(cpu, DirectMap.VirtualAddress(first), DirectMap.VirtualAddress(end));

    /// <summary><c>flush_tlb_all()</c> (after a large-page split).</summary>
    internal void FlushAll(int cpu)
    {
        cpu %= Tlb.CpuCount;
        var before = Tlb.Counters.Tally();
        Tlb.FlushTlbAll(cpu);
        Attribution.AddFlushes(Tlb.Counters.Tally() - before);
        ChargeIpiRound();
        Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.GlobalFlush, 1);
    }

    /// <summary>The initiator's wait for one IPI round (or an INVLPGB broadcast).</summary>
    void ChargeIpiRound()
    {
        if (Tlb.Options.Invlpgb) { Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.Invlpgb, 1); return; }
        int targets = Tlb.OnlineCount - 1;
        if (targets <= 0) return;
        Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.IpiInitiatorBase, 1);
        Ledger.Charge(CostCause.InitiatorFlushes, CostConstant.IpiInitiatorPerTarget, targets);
    }

    /// <summary>Pageblocks whose sensitivity changed, counted and attributed.</summary>
    public void CountFlips(long pageblocks, bool toNonsensitive)
    {
        if (toNonsensitive) Counters.PageblockFlipsToNonsensitive += pageblocks;
        else Counters.PageblockFlipsToSensitive += pageblocks;
        Attribution.AddCount(Attribution.FlipsSlot, pageblocks);
    }

    /// <summary>Makes [<paramref name="pfn"/>, +<paramref name="pages"/>) present or not in the unrestricted direct map
    /// (<c>set_direct_map_*</c>), charging splits and their flushes.</summary>
    public void SetDirectMapPresent(int cpu, Pfn pfn, long pages, bool present) =>
        _cpaDirect.Add(DirectMap.SetPresent(pfn, pages, present), cpu);

    /// <summary>The same for ASI's restricted map.</summary>
    public void SetRestrictedPresent(int cpu, Pfn pfn, long pages, bool present) =>
        _cpaRestricted.Add(Restricted!.SetPresent(pfn, pages, present), cpu);

    /// <summary>A <c>tlb_flush</c> event of the trace: the flush (and IPI) work the traced kernel did, charged as it is.</summary>
    void TracedFlush(in TraceEvent e)
    {
        void Flush(long pages)
        {
            if (pages < 0 || pages > Tlb.Options.FlushCeiling)
            {
                Counters.TracedFullFlushes++;
                Ledger.Charge(CostCause.TracedTlb, CostConstant.LocalFullFlush, 1);
                return;
            }
            Counters.TracedSinglePages += pages;
            Ledger.Charge(CostCause.TracedTlb, CostConstant.InvlpgPerPage, pages);
        }
        void Handled()
        {
            Counters.TracedIpisReceived++;
            Ledger.Charge(CostCause.TracedTlb, CostConstant.IpiPerTarget, 1);
            Ledger.Charge(CostCause.TracedTlb, CostConstant.IpiInitiatorPerTarget, 1);
        }
        switch ((TlbFlushReason)e.TlbReason)
        {
            case TlbFlushReason.TaskSwitch: Flush(-1); break;
            case TlbFlushReason.RemoteShootdown: Handled(); Flush(e.TlbPages); break;
            case TlbFlushReason.LocalShootdown or TlbFlushReason.LocalMmShootdown: Flush(e.TlbPages); break;
            case TlbFlushReason.RemoteSendIpi: Counters.TracedIpisSent++; Ledger.Charge(CostCause.TracedTlb, CostConstant.IpiInitiatorBase, 1); break;
            case TlbFlushReason.RemoteWrongCpu: Handled(); break;
        }
    }

    // ---- what the results read ----

    /// <summary>The flush counters when the replay began (after the initial layout).</summary>
    internal FlushCounters FlushBase => _flushBase;

    /// <summary>The flush work of the replay (the initial layout's excluded).</summary>
    public FlushCounters ModelFlushes => Tlb.Counters.Minus(_flushBase);

    public long Walks()
    {
        long w = 0;
        foreach (var c in Tlb.BuiltCpus) w += c.Walks;
        return w;
    }

    public CpaTotals CpaDirect => _cpaDirect;
    public CpaTotals CpaRestricted => _cpaRestricted;

    /// <summary>Brings the counter-derived causes of the ledger up to date.</summary>
    public CostLedger SettledLedger()
    {
        Ledger.Settle(CostCause.ModelFlushes, CostModel.FlushCounts(ModelFlushes));
        Ledger.Settle(CostCause.PageTablePages, [(CostConstant.TablePageAlloc, _cpaDirect.TablePages + _cpaRestricted.TablePages)]);
        Ledger.Settle(CostCause.TlbMisses, [(CostConstant.PageWalk, Walks())]);
        return Ledger;
    }

    /// <summary>CPU time of the replayed work on all CPUs (IPI handling on the targets included).</summary>
    public double EstimatedNs => SettledLedger().CpuTimeNs;
    /// <summary>Time on the CPUs that issued the work (see <see cref="CostLedger.LatencyNs"/>).</summary>
    public double LatencyNs => SettledLedger().LatencyNs;
}
