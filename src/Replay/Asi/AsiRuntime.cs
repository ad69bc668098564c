using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Machines;

namespace AsiTrace.Replay.Asi;

/// <summary>
/// How an ASI kernel reaches memory under one <see cref="AsiRuntimeConfig"/> (docs/model.md §6): the ASI policies
/// hand their zeroing, copies, page-cache accesses, context switches and kernel entries to it, and keep only their
/// allocator and direct-map design. Every touch of memory the restricted map lacks asks the machine's per-CPU state
/// (<see cref="AsiCpuState"/>) to leave the restricted space, which costs an <c>asi_exit</c> only the first time after
/// a kernel entry.
/// </summary>
public sealed class AsiRuntime(AsiRuntimeConfig config)
{
    public AsiRuntimeConfig Config => config;

    /// <summary>A kernel entry: a user task starts restricted, a kernel thread unrestricted.</summary>
    public void KernelEntry(Machine m, int cpu, bool userTask) => m.Asi!.Enter(cpu, userTask);

    /// <summary>Clearing pages: in the restricted space when they are mapped there, else after leaving it.</summary>
    public void Zero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted)
    {
        m.ChargeZeroing(pages);
        if (!inRestricted) m.LeaveRestricted(cpu, ExitCause.Zeroing);
        m.TouchDirectMap(cpu, pfn, pages, restricted: m.Asi!.IsRestricted(cpu));
    }

    /// <summary>The copy into a new sensitive user page goes through the direct map.</summary>
    public void CopyOnWrite(Machine m, int cpu, Pfn pfn)
    {
        m.LeaveRestricted(cpu, ExitCause.CopyOnWrite);
        m.TouchDirectMap(cpu, pfn, 1, restricted: false);
    }

    /// <summary>The page cache is sensitive, so not in the restricted map: leave it, or map the page through the ephmap.</summary>
    public void PageCacheAccess(Machine m, int cpu, Pfn pfn, int pages)
    {
        if (config.PageCacheThroughEphmap) { m.MapThroughEphmap(cpu, pages); return; }
        m.LeaveRestricted(cpu, ExitCause.PageCache);
        m.TouchDirectMap(cpu, pfn, pages, restricted: false);
    }

    /// <summary>A read()/write() copy of page-cache pages.</summary>
    public void FileCopy(Machine m, int cpu, int pages)
    {
        if (config.PageCacheThroughEphmap) { m.MapThroughEphmap(cpu, pages); return; }
        m.LeaveRestricted(cpu, ExitCause.PageCache);
        m.TouchLastPageCachePages(cpu, pages);
    }

    /// <summary><c>context_switch()</c>: RFC v2 leaves the restricted space every time; otherwise only when the CPU
    /// switches to another user address space.</summary>
    public void ContextSwitch(Machine m, in TraceEvent e, bool mmChanges)
    {
        if (config.ExitOnEveryContextSwitch || mmChanges) m.LeaveRestricted(e.Cpu, ExitCause.ContextSwitch);
    }
}
