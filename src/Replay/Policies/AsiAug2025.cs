using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Asi;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// <c>asi-aug2025</c>: the Aug 2025 "[Discuss] First steps for ASI (ASI is fast again)" prototype, the configuration
/// of its published FIO (−13.1 % IOPS) and kernel-build (+7.6 %) numbers (docs/model.md §6.3, §7.4). Its runtime is
/// <see cref="AsiRuntimeConfig.Aug2025"/>: page-cache reads through the ephmap, exits on every context switch, on
/// zeroing and on copy-on-write, IBPB on exit, and the TLB flushed on every transition. Its page allocator is the RFC's
/// (<see cref="AsiRfc"/>), which the prototype carried.
/// </summary>
public sealed class AsiAug2025(PolicyKnobs knobs) : IPolicy
{
    readonly AsiRfc _rfc = new(knobs, AsiRuntimeConfig.Aug2025);

    public string Name => "asi-aug2025";
    public bool IsAsi => true;
    public AsiRuntimeConfig Runtime => _rfc.Runtime;
    public FreetypeLayout Layout => _rfc.Layout;
    public void Start(Machine m) => _rfc.Start(m);
    public Freetype FreetypeFor(in AllocRequest r) => _rfc.FreetypeFor(in r);
    public void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero) => _rfc.OnAlloc(m, in r, pfn, pages, zero);
    public bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls) => _rfc.OnFree(m, in r, pfn, pages, cls);
    public void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted) => _rfc.OnZero(m, cpu, pfn, pages, inRestricted);
    public void OnCopyOnWrite(Machine m, int cpu, Pfn pfn) => _rfc.OnCopyOnWrite(m, cpu, pfn);
    public void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages) => _rfc.OnPageCacheAccess(m, cpu, pfn, pages);
    public void OnFileCopy(Machine m, int cpu, int pages) => _rfc.OnFileCopy(m, cpu, pages);
    public void OnContextSwitch(Machine m, in TraceEvent e, bool mmChanges) => _rfc.OnContextSwitch(m, in e, mmChanges);
    public void OnKernelEntry(Machine m, int cpu, bool userTask) => _rfc.OnKernelEntry(m, cpu, userTask);
    public void Finish(Machine m, int cpu) => _rfc.Finish(m, cpu);
}
