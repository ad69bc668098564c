using AsiTrace.Model.Paging;

namespace AsiTrace.Model.Tlb;

/// <summary>Flush policy knobs (docs/model.md §8.4).</summary>
public sealed record TlbOptions
{
    /// <summary><c>tlb_single_page_flush_ceiling</c>: above this many pages a range flush becomes a full flush.</summary>
    public int FlushCeiling { get; init; } = 33;
    /// <summary>Use INVLPGB + TLBSYNC broadcasts for kernel flushes instead of IPIs (AMD Zen 3+, v6.15+).</summary>
    public bool Invlpgb { get; init; }
    /// <summary>CR4.PGE with global kernel mappings (off under PTI/ASI: <c>__default_kernel_pte_mask</c>).</summary>
    public bool GlobalPages { get; init; } = true;
    /// <summary>PTI or ASI: <c>flush_tlb_one_kernel()</c> also marks the CPU's other dynamic ASIDs stale (<c>invalidate_other</c>).</summary>
    public bool InvalidateOther { get; init; }
}

/// <summary><c>enum tlb_flush_reason</c> (include/linux/mm_types.h), the reasons the tlb_flush tracepoint reports.</summary>
public enum TlbFlushReason { TaskSwitch = 0, RemoteShootdown = 1, LocalShootdown = 2, LocalMmShootdown = 3, RemoteSendIpi = 4, RemoteWrongCpu = 5 }

/// <summary>A user address space as the flush code sees it: its generation and the CPUs that may cache it.</summary>
public sealed class Mm(int id, PageTables tables)
{
    public int Id { get; } = id;
    public PageTables Tables { get; } = tables;
    /// <summary><c>mm->context.tlb_gen</c>: bumped by every flush of the mm.</summary>
    public ulong TlbGen { get; internal set; } = 1;
    /// <summary><c>mm_cpumask</c>: set on switch-in; since v6.14 cleared only when a flush finds the CPU running another mm.</summary>
    public HashSet<int> CpuMask { get; } = new();
}

/// <summary>Counters of everything the flush paths did (cumulative).</summary>
/// <summary>The flush counts that cost time (<see cref="CostModel.FlushNs(in FlushTally)"/>), as a value.</summary>
public readonly record struct FlushTally(long KernelRangeFlushes, long GlobalFlushes, long IpisSent, long IpisReceived, long IpiRounds, long Invlpg,
    long LocalFullFlushes, long InvlpgbBroadcasts)
{
    public static FlushTally operator -(FlushTally a, FlushTally b) => new(a.KernelRangeFlushes - b.KernelRangeFlushes, a.GlobalFlushes - b.GlobalFlushes,
        a.IpisSent - b.IpisSent, a.IpisReceived - b.IpisReceived, a.IpiRounds - b.IpiRounds, a.Invlpg - b.Invlpg,
        a.LocalFullFlushes - b.LocalFullFlushes, a.InvlpgbBroadcasts - b.InvlpgbBroadcasts);
}

public sealed class FlushCounters
{
    public long IpisSent, IpisReceived, Invlpg, LocalFullFlushes, GlobalFlushes, EntriesInvalidated, InvlpgbBroadcasts;
    /// <summary>Shootdowns that sent IPIs to at least one other CPU: each costs its initiator the round's base wait.</summary>
    public long IpiRounds;
    public long KernelRangeFlushes, KernelSinglePageFlushes, KernelFullFlushes;
    public readonly long[] TraceEvents = new long[Enum.GetValues<TlbFlushReason>().Length];
    /// <summary>The tlb_flush events (reason, pages) in the order the kernel would emit them, if recording is on.</summary>
    public List<(int Cpu, TlbFlushReason Reason, long Pages)>? Trace;

    /// <summary>The counts that cost time, as a value (no allocation): what a flush did is one tally minus another.</summary>
    public FlushTally Tally() => new(KernelRangeFlushes, GlobalFlushes, IpisSent, IpisReceived, IpiRounds, Invlpg, LocalFullFlushes, InvlpgbBroadcasts);

    /// <summary>The counts as they are now (the trace-event log is not copied).</summary>
    public FlushCounters Copy() => new()
    {
        IpisSent = IpisSent, IpisReceived = IpisReceived, IpiRounds = IpiRounds, Invlpg = Invlpg, LocalFullFlushes = LocalFullFlushes,
        GlobalFlushes = GlobalFlushes, EntriesInvalidated = EntriesInvalidated, InvlpgbBroadcasts = InvlpgbBroadcasts,
        KernelRangeFlushes = KernelRangeFlushes, KernelSinglePageFlushes = KernelSinglePageFlushes, KernelFullFlushes = KernelFullFlushes,
    };

    /// <summary>What was counted since <paramref name="start"/> (a <see cref="Copy"/> taken earlier).</summary>
    public FlushCounters Minus(FlushCounters start) => new()
    {
        IpisSent = IpisSent - start.IpisSent, IpisReceived = IpisReceived - start.IpisReceived, IpiRounds = IpiRounds - start.IpiRounds,
        Invlpg = Invlpg - start.Invlpg,
        LocalFullFlushes = LocalFullFlushes - start.LocalFullFlushes, GlobalFlushes = GlobalFlushes - start.GlobalFlushes,
        EntriesInvalidated = EntriesInvalidated - start.EntriesInvalidated, InvlpgbBroadcasts = InvlpgbBroadcasts - start.InvlpgbBroadcasts,
        KernelRangeFlushes = KernelRangeFlushes - start.KernelRangeFlushes,
        KernelSinglePageFlushes = KernelSinglePageFlushes - start.KernelSinglePageFlushes,
        KernelFullFlushes = KernelFullFlushes - start.KernelFullFlushes,
    };

    internal void Emit(int cpu, TlbFlushReason reason, long pages)
    {
        TraceEvents[(int)reason]++;
        Trace?.Add((cpu, reason, pages));
    }
}

/// <summary>
/// The CPUs of a machine with their TLBs and the kernel's flush logic (arch/x86/mm/tlb.c; docs/model.md §4.2–4.3):
/// <c>flush_tlb_kernel_range</c> / <c>flush_tlb_all</c> to every online CPU, <c>flush_tlb_mm_range</c> to the mm's CPUs that
/// are not lazy, context switches choosing among 6 dynamic ASIDs per CPU with generation tracking, and the tlb_flush
/// events each path emits. Returns counts; never sleeps or times anything.
/// </summary>
public sealed class TlbMachine
{
    public const int DynamicAsids = 6; // TLB_NR_DYN_ASIDS

    sealed class CpuState
    {
        public readonly int[] SlotMm = new int[DynamicAsids];
        public readonly ulong[] SlotGen = new ulong[DynamicAsids];
        public readonly bool[] SlotStale = new bool[DynamicAsids];
        public int NextSlot, Slot = -1;
        public Mm? Loaded;
        public bool Lazy;
        public CpuState() { Array.Fill(SlotMm, -1); }
    }

    readonly CpuState[] _state;
    // Each CPU's TLBs are built when it first translates: a trace may name CPUs that never run anything of interest, and
    // a CPU's TLB arrays are ~150 KB. A TLB never built holds nothing, so a flush there invalidates nothing.
    readonly CpuTlb?[] _cpus;
    readonly CpuPreset _preset;
    /// <summary>Simulated CPUs.</summary>
    public int CpuCount => _cpus.Length;
    /// <summary>The TLBs built so far (CPUs that translated something).</summary>
    public IEnumerable<CpuTlb> BuiltCpus => _cpus.Where(c => c is not null)!;
    /// <summary>The TLBs of <paramref name="cpu"/>, built on first use.</summary>
    public CpuTlb Cpu(int cpu) => _cpus[cpu] ??= new CpuTlb(_preset);
    readonly bool[] _online;
    int _onlineCount;
    public bool IsOnline(int cpu) => _online[cpu];
    public int OnlineCount => _onlineCount;
    public TlbOptions Options { get; }
    public PageTables Kernel { get; }
    /// <summary>ASI's restricted kernel tables (its own direct map), loaded in a separate PCID; null without ASI.</summary>
    public PageTables? Restricted { get; init; }
    /// <summary>Offset of the restricted address space's PCID from the unrestricted one (docs/model.md §4.3: a
    /// separate PCID per space; bit 11 as PTI's user copy uses).</summary>
    public const ushort RestrictedPcidOffset = 2048;
    public FlushCounters Counters { get; } = new();

    public TlbMachine(CpuPreset preset, int cpus, PageTables kernelTables, TlbOptions? options = null)
    {
        Options = options ?? new TlbOptions();
        Kernel = kernelTables;
        _preset = preset;
        _cpus = new CpuTlb?[cpus];
        _state = new CpuState[cpus];
        _online = new bool[cpus];
        _applied = new long[cpus];
        for (int i = 0; i < cpus; i++) { _state[i] = new CpuState(); _online[i] = true; }
        _onlineCount = cpus;
    }

    /// <summary>CPU hotplug: kernel flushes reach only online CPUs.</summary>
    public void SetOnline(int cpu, bool online)
    {
        Apply(cpu);
        if (_online[cpu] != online) { _online[cpu] = online; _onlineCount += online ? 1 : -1; }
    }

    // Kernel flushes reach every online CPU. Doing 64 CPUs' invalidations inside each flush made the bookkeeping cost
    // O(CPUs × TLB ways); instead each flush is logged once and every CPU applies the flushes it has not yet seen
    // before its next TLB access or state change — the TLB state each access sees is exactly the eager one, because
    // nothing on that CPU happens in between. A CPU that falls more than the log's length behind takes a global
    // flush instead (more invalidation than the kernel did, never less).
    enum PendingKind : byte { Pages, PagesAllPcids, Global }
    readonly record struct PendingFlush(ulong Start, ulong End, PendingKind Kind);
    readonly PendingFlush[] _log = new PendingFlush[1 << 16];
    long _logSeq;
    readonly long[] _applied;

    void Log(ulong start, ulong end, PendingKind kind) => _log[_logSeq++ & (_log.Length - 1)] = new PendingFlush(start, end, kind);

    /// <summary>Applies the kernel flushes <paramref name="cpu"/> has not seen yet.</summary>
    void Apply(int cpu)
    {
        long from = _applied[cpu];
        if (from == _logSeq) return;
        _applied[cpu] = _logSeq;
        if (!_online[cpu]) return;
        if (_logSeq - from > _log.Length) { Counters.EntriesInvalidated += (_cpus[cpu]?.FlushGlobal() ?? 0); return; }
        for (long q = from; q < _logSeq; q++)
        {
            var f = _log[q & (_log.Length - 1)];
            switch (f.Kind)
            {
                case PendingKind.Global:
                    Counters.EntriesInvalidated += (_cpus[cpu]?.FlushGlobal() ?? 0);
                    break;
                case PendingKind.PagesAllPcids:
                    for (ulong va = f.Start; va < f.End; va += 4096) Counters.EntriesInvalidated += InvalidateEverywhere(cpu, va);
                    break;
                default:
                    for (ulong va = f.Start; va < f.End; va += 4096)
                    {
                        Counters.EntriesInvalidated += (_cpus[cpu]?.Invlpg(Pcid(cpu), va) ?? 0);
                        // ASI: flush_tlb_one_kernel() also flushes the restricted copy of the current ASID, as PTI does its user copy.
                        if (Restricted is not null) Counters.EntriesInvalidated += (_cpus[cpu]?.InvpcidAddress((ushort)(Pcid(cpu) + RestrictedPcidOffset), va) ?? 0);
                    }
                    // PTI/ASI: the other ASIDs of this CPU are flushed in full when next loaded (invalidate_other).
                    if (Options.InvalidateOther) MarkOthersStale(cpu);
                    break;
            }
        }
    }

    /// <summary>Hardware PCID of the CPU's current ASID (ASID + 1; 0 before any mm was loaded).</summary>
    public ushort Pcid(int cpu) => (ushort)(_state[cpu].Slot + 1);
    public Mm? LoadedMm(int cpu) => _state[cpu].Loaded;
    public bool IsLazy(int cpu) => _state[cpu].Lazy;

    /// <summary>A load through the kernel page tables (the direct map) on <paramref name="cpu"/>.</summary>
    public TlbOutcome TranslateKernel(int cpu, ulong va, out ulong pfn) => TranslateKernel(cpu, va, restricted: false, out pfn);

    /// <summary>A kernel load in the restricted (ASI) or unrestricted address space: each has its own page tables and PCID.</summary>
    public TlbOutcome TranslateKernel(int cpu, ulong va, bool restricted, out ulong pfn)
    {
        if (_applied[cpu] != _logSeq) Apply(cpu);
        if (restricted)
        {
            var tables = Restricted ?? throw new InvalidOperationException("no restricted address space (ASI off)");
            return Cpu(cpu).Translate((ushort)(Pcid(cpu) + RestrictedPcidOffset), va, tables, false, out pfn);
        }
        return Cpu(cpu).Translate(Pcid(cpu), va, Kernel, Options.GlobalPages, out pfn);
    }

    // ---- kernel address flushes: every online CPU, lazy or idle ----

    /// <summary><c>flush_tlb_kernel_range()</c>: up to the ceiling, INVLPG per 4 KiB page on every online CPU; above it,
    /// a global flush. With INVLPGB: one broadcast and no IPIs. Emits no tlb_flush event.</summary>
    public void FlushTlbKernelRange(int initiator, ulong start, ulong end)
    {
        long pages = (long)((end - start + 4095) >> 12);
        bool full = pages > Options.FlushCeiling;
        Counters.KernelRangeFlushes++;
        if (full) Counters.KernelFullFlushes++; else Counters.KernelSinglePageFlushes++;
        if (Options.Invlpgb) Counters.InvlpgbBroadcasts++;
        else SendIpis(_onlineCount - (_online[initiator] ? 1 : 0));
        if (full) { Counters.GlobalFlushes += _onlineCount; Log(0, 0, PendingKind.Global); return; }
        if (!Options.Invlpgb) Counters.Invlpg += pages * _onlineCount;
        Log(start & ~4095UL, start + (ulong)pages * 4096, Options.Invlpgb ? PendingKind.PagesAllPcids : PendingKind.Pages);
    }

    /// <summary><c>flush_tlb_all()</c>: a global flush (INVPCID type 2 / CR4.PGE) on every online CPU.</summary>
    public void FlushTlbAll(int initiator)
    {
        if (Options.Invlpgb) Counters.InvlpgbBroadcasts++;
        else SendIpis(_onlineCount - (_online[initiator] ? 1 : 0));
        Counters.GlobalFlushes += _onlineCount;
        Log(0, 0, PendingKind.Global);
    }

    int InvalidateEverywhere(int cpu, ulong va)
    {
        // A broadcast INVLPGB for a kernel address reaches every PCID, globals included.
        int n = (_cpus[cpu]?.Invlpg(Pcid(cpu), va) ?? 0);
        for (int s = 0; s <= DynamicAsids; s++)
        {
            n += (_cpus[cpu]?.InvpcidAddress((ushort)s, va) ?? 0);
            if (Restricted is not null) n += (_cpus[cpu]?.InvpcidAddress((ushort)(s + RestrictedPcidOffset), va) ?? 0);
        }
        return n;
    }

    void MarkOthersStale(int cpu)
    {
        var st = _state[cpu];
        for (int s = 0; s < DynamicAsids; s++) if (s != st.Slot && st.SlotMm[s] >= 0) st.SlotStale[s] = true;
    }

    void SendIpis(int targets)
    {
        Counters.IpisSent += targets;
        Counters.IpisReceived += targets;
        if (targets > 0) Counters.IpiRounds++;
    }

    // ---- user address spaces ----

    /// <summary>
    /// <c>flush_tlb_mm_range()</c>: bumps the mm's generation; flushes locally if the initiator runs the mm (LOCAL_MM_SHOOTDOWN);
    /// if other CPUs are in the mask, emits REMOTE_SEND_IPI and IPIs those that run the mm and are not lazy (all of
    /// them when page tables are freed). A target catches up with a partial flush only if it is exactly one generation
    /// behind, else a full flush of the ASID; a target that runs another mm leaves the mask (REMOTE_WRONG_CPU, v6.14+).
    /// </summary>
    // Reused per flush: the flush paths run once per traced tlb event.
    readonly List<int> _others = new(), _targets = new();

    public void FlushTlbMmRange(int initiator, Mm mm, ulong start, ulong end, bool freedTables = false)
    {
        long pages = (long)((end - start + 4095) >> 12);
        bool full = pages > Options.FlushCeiling;
        long tracePages = full ? -1 : pages;
        mm.TlbGen++;
        var others = _others;
        others.Clear();
        foreach (int cpu in mm.CpuMask) if (cpu != initiator) others.Add(cpu);
        others.Sort();
        if (others.Count > 0)
        {
            Counters.Emit(initiator, TlbFlushReason.RemoteSendIpi, tracePages);
            var targets = _targets;
            targets.Clear();
            foreach (int cpu in others)
            {
                var st = _state[cpu];
                bool runs = st.Loaded == mm;
                if (runs && st.Lazy && !freedTables) continue; // should_flush_tlb(): lazy CPUs catch up on switch-in
                targets.Add(cpu);
            }
            SendIpis(targets.Count);
            foreach (int cpu in targets) FlushFunc(cpu, mm, start, end, full, TlbFlushReason.RemoteShootdown);
        }
        Apply(initiator);
        if (_state[initiator].Loaded == mm && !_state[initiator].Lazy) FlushFunc(initiator, mm, start, end, full, TlbFlushReason.LocalMmShootdown);
    }

    /// <summary><c>flush_tlb_func()</c> on one CPU.</summary>
    void FlushFunc(int cpu, Mm mm, ulong start, ulong end, bool full, TlbFlushReason reason)
    {
        Apply(cpu);
        var st = _state[cpu];
        if (st.Loaded != mm)
        {
            // Runs another mm now: leave the mask (v6.14+).
            mm.CpuMask.Remove(cpu);
            Counters.Emit(cpu, TlbFlushReason.RemoteWrongCpu, 0);
            return;
        }
        if (st.Lazy)
        {
            // Page tables freed while lazy: switch to init_mm; the mm gets a full flush when switched back in.
            st.Loaded = null; st.Slot = -1; st.Lazy = false;
            return;
        }
        ulong local = st.SlotGen[st.Slot];
        if (local >= mm.TlbGen) return; // already current: no event
        ushort pcid = Pcid(cpu);
        if (!full && local + 1 == mm.TlbGen)
        {
            for (ulong va = start; va < end; va += 4096)
            {
                Counters.EntriesInvalidated += (_cpus[cpu]?.Invlpg(pcid, va) ?? 0);
                Counters.Invlpg++;
                // User memory is mapped in both ASI spaces: the restricted PCID's copy goes too.
                if (Restricted is not null) Counters.EntriesInvalidated += (_cpus[cpu]?.InvpcidAddress((ushort)(pcid + RestrictedPcidOffset), va) ?? 0);
            }
            Counters.Emit(cpu, reason, (long)((end - start + 4095) >> 12));
        }
        else
        {
            Counters.EntriesInvalidated += (_cpus[cpu]?.FlushPcid(pcid) ?? 0);
            if (Restricted is not null) Counters.EntriesInvalidated += (_cpus[cpu]?.FlushPcid((ushort)(pcid + RestrictedPcidOffset)) ?? 0);
            Counters.LocalFullFlushes++;
            Counters.Emit(cpu, reason, -1);
        }
        st.SlotGen[st.Slot] = mm.TlbGen;
    }

    /// <summary>
    /// <c>switch_mm_irqs_off()</c>: same mm and not lazy → nothing; back from lazy → full flush only if the mm moved on;
    /// another mm → join its mask and <c>choose_new_asid()</c>: a slot that already holds the mm is reused (flushed only
    /// if behind or marked stale), else the next slot round-robin is taken and flushed. Emits TASK_SWITCH (0 or -1).
    /// </summary>
    public void SwitchMm(int cpu, Mm next)
    {
        Apply(cpu);
        var st = _state[cpu];
        if (st.Loaded == next)
        {
            if (!st.Lazy) return;
            st.Lazy = false;
            if (st.SlotGen[st.Slot] < next.TlbGen || st.SlotStale[st.Slot]) FlushSlot(cpu, st.Slot, next);
            return;
        }
        st.Lazy = false;
        next.CpuMask.Add(cpu);
        int slot = Array.IndexOf(st.SlotMm, next.Id);
        if (slot >= 0)
        {
            st.Slot = slot; st.Loaded = next;
            if (st.SlotGen[slot] < next.TlbGen || st.SlotStale[slot]) FlushSlot(cpu, slot, next);
            else Counters.Emit(cpu, TlbFlushReason.TaskSwitch, 0);
            return;
        }
        slot = st.NextSlot;
        st.NextSlot = (st.NextSlot + 1) % DynamicAsids;
        st.SlotMm[slot] = next.Id;
        st.Slot = slot; st.Loaded = next;
        FlushSlot(cpu, slot, next);
    }

    void FlushSlot(int cpu, int slot, Mm mm)
    {
        var st = _state[cpu];
        Counters.EntriesInvalidated += (_cpus[cpu]?.FlushPcid((ushort)(slot + 1)) ?? 0);
        if (Restricted is not null) Counters.EntriesInvalidated += (_cpus[cpu]?.FlushPcid((ushort)(slot + 1 + RestrictedPcidOffset)) ?? 0);
        Counters.LocalFullFlushes++;
        st.SlotGen[slot] = mm.TlbGen;
        st.SlotStale[slot] = false;
        Counters.Emit(cpu, TlbFlushReason.TaskSwitch, -1);
    }

    /// <summary><c>enter_lazy_tlb()</c>: a kernel thread runs on the CPU; the old mm stays loaded.</summary>
    public void EnterLazy(int cpu)
    {
        Apply(cpu);
        if (_state[cpu].Loaded is not null) _state[cpu].Lazy = true;
    }
}
