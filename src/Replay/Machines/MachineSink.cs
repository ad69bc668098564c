using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Machines;

/// <summary>
/// A <see cref="Machine"/> as a struct sink: <see cref="RequestPlayer{TSink}"/> compiled for this type calls the machine's
/// methods directly instead of through the interface.
/// </summary>
public readonly struct MachineSink(Machine machine) : IRequestSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Alloc(in AllocRequest r) => machine.Alloc(in r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(in FreeRequest r, long modelPfn) => machine.Free(in r, modelPfn);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Observe(in TraceEvent e) => machine.Observe(in e);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PageCacheAccess(in TraceEvent e, long modelPfn, int pages) => machine.PageCacheAccess(in e, modelPfn, pages);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FileCopy(in TraceEvent e, int pages) => machine.FileCopy(in e, pages);
    public double LastAllocCostNs => machine.LastAllocCostNs;
}
