using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Classify;

namespace AsiTrace.Replay.Requests;

/// <summary>An allocation the trace shows (<c>mm_page_alloc</c> with a page), as a request to a policy's model.</summary>
/// <param name="Ordinal">the allocation's number among the trace's successful <c>mm_page_alloc</c> events (the pre-scan
/// numbers them the same way); −1 for allocations the trace did not show.</param>
/// <param name="Pid">the task, −1 when the trace gave none.</param>
/// <param name="CommId">the task's comm in the reader's table, −1 when the trace gave none.</param>
/// <param name="Isolated">A compaction target: taken off the buddy lists directly (<c>__isolate_free_page()</c>), not
/// through the pcp lists and without <c>mm_page_alloc_zone_locked</c>.</param>
/// <param name="CallSiteId">the call site <c>ingest --stacks</c> gave the event (the reader's call-site table), −1 when none.</param>
public readonly record struct AllocRequest(long TsNs, int Cpu, int Pid, int CommId, long TracePfn, int Order, ulong Gfp,
    int Migratetype, int HighestZoneIdx, long Ordinal = -1, Sensitivity Class = Sensitivity.Nonsensitive, ClassReason Reason = ClassReason.Default,
    bool Isolated = false, int CallSiteId = -1);

/// <summary>
/// A free the trace shows, resolved against the allocation it releases: <see cref="AllocId"/> is the request the pages
/// came from and <see cref="Offset"/> the first page's offset in it (a high-order allocation may be freed in pieces),
/// or −1 for pages allocated before the trace began, which every model holds at their traced pfn.
/// </summary>
public readonly record struct FreeRequest(long TsNs, int Cpu, long TracePfn, int Order, long AllocId, long Offset);

/// <summary>A policy's model fed by the reconstructed request stream.</summary>
public interface IRequestSink
{
    /// <summary>Places the allocation; returns the pfn the model chose, −1 if it could not.</summary>
    long Alloc(in AllocRequest r);
    /// <summary>Frees <paramref name="r"/>'s pages, at <paramref name="modelPfn"/> in this model.</summary>
    void Free(in FreeRequest r, long modelPfn);
    /// <summary>Every event passes here first, in order: time-driven work (pcp decay) and events the model reads
    /// without requests (context switches, page-cache events, TLB flushes).</summary>
    void Observe(in TraceEvent e);
    /// <summary>A page-cache page is filled or copied (<c>mm_filemap_add_to_page_cache</c>): the kernel touches
    /// <paramref name="pages"/> pages at <paramref name="modelPfn"/> in this model.</summary>
    void PageCacheAccess(in TraceEvent e, long modelPfn, int pages);
    /// <summary>A read()/write() copies <paramref name="pages"/> pages between the page cache and user memory
    /// (<c>sys_read</c>/<c>sys_write</c>; which pages is not in the trace).</summary>
    void FileCopy(in TraceEvent e, int pages);
    /// <summary>The modelled CPU time (ns) of the last <see cref="Alloc"/>: placing, zeroing, mapping and flushing it.</summary>
    double LastAllocCostNs { get; }
}
