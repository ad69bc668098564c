using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>noasi</c>: the kernel as traced. One address space with global kernel mappings; a freetype is a migratetype;
/// zeroing and copies go through the direct map. The fidelity check runs on this policy.
/// </summary>
public sealed class NoAsi : IPolicy
{
    public string Name => "noasi";
    public bool IsAsi => false;
    public FreetypeLayout Layout => FreetypeLayout.None;

    public Freetype FreetypeFor(in AllocRequest r) => Freetype.OfMigratetype(Math.Clamp(r.Migratetype, 0, Migratetype.Count - 1));

    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero)
    {
        if (zero) m.Zero(r.Cpu, pfn, pages, inRestricted: false);
    }

    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls) => true;

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted)
    {
        m.ChargeZeroing(pages);
        m.TouchDirectMap(cpu, pfn, pages, restricted: false);
    }

    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => m.TouchDirectMap(cpu, pfn, 1, restricted: false);

    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => m.TouchDirectMap(cpu, pfn, pages, restricted: false);

    public void OnFileCopy(Machine m, int cpu, int pages) => m.TouchLastPageCachePages(cpu, pages);
}
