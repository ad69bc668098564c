using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// A <see cref="PolicyEngine"/> as a struct sink: <see cref="RequestPlayer{TSink}"/> compiled for this type calls the
/// engine's methods directly instead of through the interface (see there).
/// </summary>
public readonly struct EngineSink(PolicyEngine engine) : IRequestSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Alloc(in AllocRequest r) => engine.Alloc(in r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(in FreeRequest r, long modelPfn) => engine.Free(in r, modelPfn);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Observe(in TraceEvent e) => engine.Observe(in e);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PageCacheAccess(in TraceEvent e, long modelPfn, int pages) => engine.PageCacheAccess(in e, modelPfn, pages);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FileCopy(in TraceEvent e, int pages) => engine.FileCopy(in e, pages);
}
