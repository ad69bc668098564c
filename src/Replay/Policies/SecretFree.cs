using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>secretfree</c>: today's secretmem / guest_memfd, the baseline of the <c>__GFP_UNMAPPED</c> series' benchmark
/// (docs/model.md, "secretfree"). Each unmapped-class allocation is removed from the direct map page by page
/// (<c>set_direct_map_invalid_noflush()</c>, splitting 2 MiB leaves) and flushed with <c>flush_tlb_kernel_range()</c>;
/// freeing puts it back (<c>set_direct_map_default_noflush()</c>, no flush, no collapse). No ASI.
/// </summary>
public sealed class SecretFree : IPolicy
{
    public string Name => "secretfree";
    public bool IsAsi => false;
    public FreetypeLayout Layout => FreetypeLayout.None;

    public Freetype FreetypeFor(in AllocRequest r) => Freetype.OfMigratetype(Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1));

    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero)
    {
        if (zero) m.Zero(r.Cpu, pfn, pages, inRestricted: false);
        if (r.Class != Sensitivity.Unmapped) return;
        m.SetDirectMapPresent(r.Cpu, pfn, pages, false);
        m.KernelFlush(r.Cpu, pfn, pfn.Plus(pages));
        m.Counters.PerAllocationUnmaps++;
    }

    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls)
    {
        // Present again; 0 → 1 needs no flush, and the split leaf stays split.
        if (cls == Sensitivity.Unmapped) m.SetDirectMapPresent(r.Cpu, pfn, pages, true);
        return true;
    }

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted)
    {
        m.ChargeZeroing(pages);
        m.TouchDirectMap(cpu, pfn, pages, restricted: false);
    }

    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => m.TouchDirectMap(cpu, pfn, 1, restricted: false);

    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => m.TouchDirectMap(cpu, pfn, pages, restricted: false);

    public void OnFileCopy(Machine m, int cpu, int pages) => m.TouchLastPageCachePages(cpu, pages);
}
