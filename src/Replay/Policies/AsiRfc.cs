using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Asi;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>asi-rfc</c>: ASI RFC v2 and the page-allocator problems its authors listed (docs/model.md, "asi-rfc"). The
/// restricted map holds allocated nonsensitive pages only, mapped and unmapped page by page (4 KiB granular, so it
/// splits); a page that held sensitive data is zeroed before it becomes visible there; freed nonsensitive pages queue
/// for an asynchronous unmap (<see cref="PolicyKnobs.RfcUnmapBatch"/> pages, one <c>flush_tlb_kernel_range()</c> over
/// the batch's span) and then go to the buddy bypassing the pcp lists. The ASI runtime is RFC v2's
/// (<see cref="AsiRuntimeConfig.RfcV2"/>) unless another is given (<see cref="AsiAug2025"/>).
/// </summary>
public sealed class AsiRfc(PolicyKnobs knobs, AsiRuntimeConfig? runtime = null) : IPolicy
{
    readonly AsiRuntime _runtime = new((runtime ?? AsiRuntimeConfig.RfcV2).With(knobs));
    PfnBitmap _formerlySensitive = null!;
    readonly List<(Pfn Pfn, int Order)> _pending = new();
    long _pendingPages;

    public string Name => "asi-rfc";
    public bool IsAsi => true;
    public AsiRuntimeConfig Runtime => _runtime.Config;
    public FreetypeLayout Layout => FreetypeLayout.None;

    /// <summary>Everything allocated when the trace starts (kernel data, taken as nonsensitive) is in the restricted map;
    /// free pages are not.</summary>
    public void Start(Machine m)
    {
        _formerlySensitive = new PfnBitmap(0, m.PfnLimit);
        var free = new List<(long Pfn, int Order)>();
        foreach (var z in m.Allocator.Zones)
            if (z is not null) free.AddRange(z.Buddy.FreeBlocks());
        free.Sort((a, b) => a.Pfn.CompareTo(b.Pfn));
        long p = 0;
        foreach (var (pfn, order) in free)
        {
            if (pfn > p) m.Restricted!.SetPresent(new Pfn(p), pfn - p, true);
            p = Math.Max(p, pfn + (1L << order));
        }
        if (p < m.PfnLimit) m.Restricted!.SetPresent(new Pfn(p), m.PfnLimit - p, true);
    }

    public Freetype FreetypeFor(in AllocRequest r) => Freetype.OfMigratetype(Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1));

    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero)
    {
        if (r.Class == Sensitivity.Nonsensitive)
        {
            // Pages that held sensitive data are zeroed before they become visible in the restricted map.
            if (_formerlySensitive.ContainsAny(pfn.Value, pages)) m.Zero(r.Cpu, pfn, pages, inRestricted: false);
            m.SetRestrictedPresent(r.Cpu, pfn, pages, true);
            if (zero) m.Zero(r.Cpu, pfn, pages, inRestricted: true);
        }
        else
        {
            _formerlySensitive.AddRange(pfn.Value, pages);
            if (zero) m.Zero(r.Cpu, pfn, pages, inRestricted: false);
        }
    }

    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls)
    {
        if (cls is not (Sensitivity.Nonsensitive or null)) return true;
        // Mapped in the restricted map: queued for the asynchronous unmap; the pages reach the buddy after the flush.
        _pending.Add((pfn, r.Order));
        _pendingPages += pages;
        if (_pendingPages >= knobs.RfcUnmapBatch) UnmapWork(m, r.Cpu);
        return false;
    }

    /// <summary>The RFC's unmap worker: clear the queued pages from the restricted map, one
    /// <c>flush_tlb_kernel_range()</c> over the span they cover (a full flush above the single-page ceiling), then free
    /// them to the buddy bypassing the pcp lists.</summary>
    void UnmapWork(Machine m, int cpu)
    {
        long lo = long.MaxValue, hi = 0;
        foreach (var (pfn, order) in _pending)
        {
            m.SetRestrictedPresent(cpu, pfn, 1L << order, false);
            lo = Math.Min(lo, pfn.Value);
            hi = Math.Max(hi, pfn.Value + (1L << order));
        }
        m.KernelFlush(cpu, new Pfn(lo), new Pfn(hi));
        if (!m.TracePlacement) foreach (var (pfn, order) in _pending) m.Allocator.FreeToBuddy(pfn.Value, order);
        _pending.Clear();
        _pendingPages = 0;
    }

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted) => _runtime.Zero(m, cpu, pfn, pages, inRestricted);
    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => _runtime.CopyOnWrite(m, cpu, pfn);
    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => _runtime.PageCacheAccess(m, cpu, pfn, pages);
    public void OnFileCopy(Machine m, int cpu, int pages) => _runtime.FileCopy(m, cpu, pages);
    public void OnContextSwitch(Machine m, in TraceEvent e, bool mmChanges) => _runtime.ContextSwitch(m, in e, mmChanges);
    public void OnKernelEntry(Machine m, int cpu, bool userTask) => _runtime.KernelEntry(m, cpu, userTask);

    public void Finish(Machine m, int cpu)
    {
        if (_pending.Count > 0) UnmapWork(m, cpu);
    }
}
