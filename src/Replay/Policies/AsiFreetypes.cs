using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Asi;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>asi-freetypes</c>: the Sep 2025 "mm: ASI direct map management" series (docs/model.md, "asi-freetypes"). The
/// sensitivity is part of the freetype, so free and pcp lists are kept per sensitivity and whole pageblocks are mapped
/// in or out of the restricted map (preallocated at 2 MiB: no splits). Pageblocks start sensitive. The allocator flips a
/// pageblock (<c>__rmqueue_asi()</c>) only after the normal path and HIGHATOMIC failed, and never for ALLOC_NOBLOCK
/// requests. A pageblock that becomes nonsensitive is zeroed and mapped; one that becomes sensitive is unmapped and
/// shot down with <c>flush_tlb_kernel_range()</c>.
/// </summary>
public sealed class AsiFreetypes(PolicyKnobs knobs) : IPolicy
{
    // The same runtime as asi-rfc, so the two differ only in the allocator and the restricted map's design.
    readonly AsiRuntime _runtime = new(AsiRuntimeConfig.RfcV2.With(knobs));
    // Sensitive-ward flips whose kernel-range flush is still due (SensitiveFlushBatch > 1), and the span they cover.
    int _pendingFlips;
    long _pendingLo = long.MaxValue, _pendingHi;

    public string Name => "asi-freetypes";
    public bool IsAsi => true;
    public AsiRuntimeConfig Runtime => _runtime.Config;
    public FreetypeLayout Layout => FreetypeLayout.Sensitivity;
    public bool NeedsModelPlacement => true;

    /// <summary>The series boots with every pageblock sensitive; the knob may start all nonsensitive, or in proportion
    /// to the trace's share of sensitive pages.</summary>
    public (int Flag, double Fraction) InitialPageblocks(double traceSensitiveFraction) => knobs.InitialSensitivity switch
    {
        InitialSensitivity.Sensitive => (1, -1),
        InitialSensitivity.Trace => (0, traceSensitiveFraction),
        _ => (0, -1),
    };

    /// <summary>Freetype flag 1 = sensitive.</summary>
    public Freetype FreetypeFor(in AllocRequest r) =>
        Freetype.Make(Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1), r.Class == Sensitivity.Nonsensitive ? 0 : 1);

    /// <summary>Requests that cannot reclaim may not flip a pageblock (they cannot wait for the flush), unless the
    /// <see cref="PolicyKnobs.NoBlockMayFlip"/> ablation allows it.</summary>
    public AllocFlags AlwaysFlags(in AllocRequest r) =>
        !knobs.NoBlockMayFlip && (r.Gfp & (ulong)Gfp.DirectReclaim) == 0 ? AllocFlags.NoBlock : AllocFlags.None;

    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero)
    {
        if (zero) m.Zero(r.Cpu, pfn, pages, inRestricted: r.Class == Sensitivity.Nonsensitive);
    }

    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls) => true;

    public void OnConvert(Machine m, int cpu, Pfn pfn, int order, Freetype freetype)
    {
        long n = 1L << order;
        long pageblocks = n >> m.Allocator.Options.Buddy.PageblockOrder;
        if (freetype.Flag == 0)
        {
            // Becoming nonsensitive: zero the block (it held sensitive data), then map it; Present 0 → 1 needs no flush.
            m.CountFlips(pageblocks, toNonsensitive: true);
            if (!knobs.SkipZeroOnFlip) { m.Zero(cpu, pfn, n, inRestricted: false); m.Counters.PagesZeroedForFlip += n; }
            m.SetRestrictedPresent(cpu, pfn, n, true);
        }
        else
        {
            // Becoming sensitive: unmap from the restricted map and shoot the translation down everywhere (or, with
            // SensitiveFlushBatch > 1, once per batch of flips).
            m.CountFlips(pageblocks, toNonsensitive: false);
            m.SetRestrictedPresent(cpu, pfn, n, false);
            _pendingFlips++;
            _pendingLo = Math.Min(_pendingLo, pfn.Value);
            _pendingHi = Math.Max(_pendingHi, pfn.Value + n);
            if (_pendingFlips >= Math.Max(knobs.SensitiveFlushBatch, 1)) FlushPendingFlips(m, cpu);
        }
    }

    void FlushPendingFlips(Machine m, int cpu)
    {
        if (_pendingFlips == 0) return;
        m.KernelFlush(cpu, new Pfn(_pendingLo), new Pfn(_pendingHi));
        _pendingFlips = 0;
        _pendingLo = long.MaxValue; _pendingHi = 0;
    }

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted) => _runtime.Zero(m, cpu, pfn, pages, inRestricted);
    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => _runtime.CopyOnWrite(m, cpu, pfn);
    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => _runtime.PageCacheAccess(m, cpu, pfn, pages);
    public void OnFileCopy(Machine m, int cpu, int pages) => _runtime.FileCopy(m, cpu, pages);
    public void OnContextSwitch(Machine m, in TraceEvent e, bool mmChanges) => _runtime.ContextSwitch(m, in e, mmChanges);
    public void OnKernelEntry(Machine m, int cpu, bool userTask) => _runtime.KernelEntry(m, cpu, userTask);

    public void Finish(Machine m, int cpu) => FlushPendingFlips(m, cpu);
}
