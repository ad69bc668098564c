using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Requests;

/// <summary>An allocation the trace shows (<c>mm_page_alloc</c> with a page), as a request to a policy's model.</summary>
public readonly record struct AllocRequest(long TsNs, int Cpu, int Pid, int CommId, long TracePfn, int Order, ulong Gfp,
    int Migratetype, int HighestZoneIdx);

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
}
