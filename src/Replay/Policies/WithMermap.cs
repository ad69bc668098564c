using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Asi;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>+mermap</c> on any policy: the mermap of the <c>__GFP_UNMAPPED</c> series (the ephmap of Aug 2025 before it;
/// docs/model.md, "mermap"). Where the inner policy would leave the restricted map to zero or copy a page, the page is
/// mapped into the CPU-local mermap window instead (one TLB miss per page, a local full flush when the window wraps). A
/// copy-on-write needs the source and the destination mapped at once, so two slots (the ephmap had one). Without ASI
/// nothing changes. Everything else is the inner policy's.
/// </summary>
public sealed class WithMermap(IPolicy inner, PolicyKnobs knobs) : IPolicy
{
    public IPolicy Inner => inner;
    public string Name => inner.Name + "+mermap";
    public bool IsAsi => inner.IsAsi;
    public FreetypeLayout Layout => inner.Layout;
    public (int Flag, double Fraction) InitialPageblocks(double traceSensitiveFraction) => inner.InitialPageblocks(traceSensitiveFraction);
    public bool NeedsModelPlacement => inner.NeedsModelPlacement;
    public void Start(Machine m) => inner.Start(m);
    public Freetype FreetypeFor(in AllocRequest r) => inner.FreetypeFor(in r);
    public AllocFlags AlwaysFlags(in AllocRequest r) => inner.AlwaysFlags(in r);
    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero) => inner.OnAlloc(m, in r, pfn, pages, zero);
    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls) => inner.OnFree(m, in r, pfn, pages, cls);
    public void OnConvert(Machine m, int cpu, Pfn pfn, int order, Freetype freetype) => inner.OnConvert(m, cpu, pfn, order, freetype);
    public AsiRuntimeConfig? Runtime => inner.Runtime;
    public void OnContextSwitch(Machine m, in TraceEvent e, bool mmChanges) => inner.OnContextSwitch(m, in e, mmChanges);
    public void OnKernelEntry(Machine m, int cpu, bool userTask) => inner.OnKernelEntry(m, cpu, userTask);
    public long OnTick(Machine m, in TraceEvent e) => inner.OnTick(m, in e);
    public void Finish(Machine m, int cpu) => inner.Finish(m, cpu);

    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted)
    {
        if (!inner.IsAsi || inRestricted) { inner.OnZero(m, cpu, pfn, pages, inRestricted); return; }
        m.ChargeZeroing(pages);
        m.MapThroughMermap(cpu, (int)Math.Min(pages, int.MaxValue));
    }

    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn)
    {
        if (inner.IsAsi && knobs.MermapSlots >= 2) m.MapThroughMermap(cpu, 2);
        else inner.OnCopyOnWrite(m, cpu, pfn);
    }

    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages)
    {
        if (inner.IsAsi) m.MapThroughMermap(cpu, pages);
        else inner.OnPageCacheAccess(m, cpu, pfn, pages);
    }

    public void OnFileCopy(Machine m, int cpu, int pages)
    {
        if (inner.IsAsi) m.MapThroughMermap(cpu, pages);
        else inner.OnFileCopy(m, cpu, pages);
    }
}
