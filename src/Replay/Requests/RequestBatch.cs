using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Classify;

namespace AsiTrace.Replay.Requests;

/// <summary>What one event asks of every policy's model, beyond <see cref="IRequestSink.Observe"/>.</summary>
public enum RequestOp : byte
{
    /// <summary>Place a new allocation (reconstructor slot <see cref="RequestAction.Slot"/>).</summary>
    Alloc,
    /// <summary>Free pages of a live allocation: <see cref="RequestAction.Offset"/> pages into its slot.</summary>
    Free,
    /// <summary>Free pages allocated before the trace, at their traced pfn.</summary>
    FreePreexisting,
    /// <summary>An allocation the trace did not show (a bulk allocation's page), freed at once.</summary>
    UntracedAllocFree,
    /// <summary>A page-cache fill of a live allocation's pages (slot and offset), or of untracked pages (slot −1, traced pfn).</summary>
    PageCache,
    /// <summary>A read()/write() copying <see cref="RequestAction.Pages"/> pages.</summary>
    FileCopy,
    /// <summary>Compaction moved <see cref="RequestAction.Pages"/> pages into free pages it isolated itself: each model takes
    /// as many order-0 pages off its free lists, and the untraced frees that follow release them.</summary>
    CompactionTargets,
}

/// <summary>
/// One step of the request stream. The event it belongs to (<see cref="Event"/>, an index into the chunk) supplies
/// time, CPU, pid and comm; the rest is here. Policies never see reconstructor state: frees name the allocation's slot,
/// and each policy's <see cref="RequestPlayer{TSink}"/> keeps where its own model put that slot's pages.
/// </summary>
public struct RequestAction
{
    public int Event;
    public RequestOp Op;
    public byte Order;
    public sbyte Migratetype;
    public byte HighestZoneIdx;
    public Sensitivity Class;
    public ClassReason Reason;
    public int Slot;
    public int Pages;
    public long Pfn;
    public long Offset;
    /// <summary>Alloc: the allocation's ordinal; Free: the request id of the allocation freed.</summary>
    public long Id;
    public ulong Gfp;
}

/// <summary>The actions of one chunk of events, in event order.</summary>
public sealed class RequestBatch
{
    public RequestAction[] Actions = new RequestAction[1024];
    public int Count;
    /// <summary>When the request log wants each request's cost: per <see cref="RequestOp.Alloc"/> action in order, one
    /// slot per policy (<see cref="Policies"/> wide), which each policy's player fills with its model's cost.</summary>
    public double[]? AllocCosts;
    public int Policies;

    public void Clear() => Count = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref RequestAction Next()
    {
        if (Count == Actions.Length) Array.Resize(ref Actions, Actions.Length * 2);
        ref var a = ref Actions[Count++];
        a = default;
        return ref a;
    }
}

/// <summary>
/// Applies a <see cref="RequestBatch"/> to one policy's model, remembering where that model placed each live
/// allocation (by reconstructor slot). Call <see cref="Event"/> for every event of the chunk, in order.
/// Generic in the sink so that a struct sink (<see cref="Machines.MachineSink"/>) gets a player compiled for it, calling
/// the engine directly: through the interface every event cost a virtual-stub dispatch (3 % of a policy's work).
/// </summary>
public sealed class RequestPlayer<TSink>(TSink sink, int policyIndex = 0) where TSink : IRequestSink
{
    int _allocIndex;
    long[] _modelPfn = new long[1024];
    // Compaction targets this model isolated and no free has released yet (model pfns, last in first out).
    long[] _isolated = new long[64];
    int _isolatedCount;
    RequestBatch? _batch;
    int _next;

    public void Begin(RequestBatch batch)
    {
        _batch = batch;
        _next = 0;
        _allocIndex = 0;
    }

    public void Event(int index, in TraceEvent e)
    {
        sink.Observe(in e);
        var b = _batch!;
        while (_next < b.Count && b.Actions[_next].Event == index) Apply(in b.Actions[_next++], in e);
    }

    void Apply(in RequestAction a, in TraceEvent e)
    {
        switch (a.Op)
        {
            case RequestOp.Alloc:
            {
                var req = new AllocRequest(e.TsNs, e.Cpu, e.Has(EventFields.Pid) ? e.Pid : -1, e.Has(EventFields.Comm) ? e.CommId : -1, a.Pfn, a.Order, a.Gfp,
                    a.Migratetype, a.HighestZoneIdx, a.Id, a.Class, a.Reason, CallSiteId: e.Has(EventFields.CallSite) ? e.CallSiteId : -1);
                if (a.Slot >= _modelPfn.Length) Array.Resize(ref _modelPfn, Math.Max(a.Slot + 1, _modelPfn.Length * 2));
                _modelPfn[a.Slot] = sink.Alloc(in req);
                if (_batch!.AllocCosts is { } costs) costs[_allocIndex * _batch.Policies + policyIndex] = sink.LastAllocCostNs;
                _allocIndex++;
                break;
            }
            case RequestOp.Free:
            {
                long m = _modelPfn[a.Slot];
                if (m >= 0) sink.Free(new FreeRequest(e.TsNs, e.Cpu, a.Pfn, a.Order, a.Id, a.Offset), m + a.Offset);
                break;
            }
            case RequestOp.FreePreexisting:
                sink.Free(new FreeRequest(e.TsNs, e.Cpu, a.Pfn, a.Order, -1, 0), a.Pfn);
                break;
            case RequestOp.UntracedAllocFree:
            {
                // A page no traced allocation gave: compaction's target if it isolated any (order 0), otherwise a bulk
                // allocation's page off the pcp list (docs/model.md §2).
                if (a.Order == 0 && _isolatedCount > 0)
                {
                    sink.Free(new FreeRequest(e.TsNs, e.Cpu, a.Pfn, 0, a.Id, 0), _isolated[--_isolatedCount]);
                    break;
                }
                var bulk = new AllocRequest(e.TsNs, e.Cpu, e.Has(EventFields.Pid) ? e.Pid : -1, e.Has(EventFields.Comm) ? e.CommId : -1, a.Pfn, a.Order, 0,
                    Model.Alloc.Migratetype.Unmovable, ZoneIndex.Normal);
                long m = sink.Alloc(in bulk);
                if (m >= 0) sink.Free(new FreeRequest(e.TsNs, e.Cpu, a.Pfn, a.Order, a.Id, 0), m);
                break;
            }
            case RequestOp.PageCache:
            {
                long m = a.Slot >= 0 ? _modelPfn[a.Slot] : a.Pfn;
                if (m >= 0) sink.PageCacheAccess(in e, a.Slot >= 0 ? m + a.Offset : m, a.Pages);
                break;
            }
            case RequestOp.FileCopy:
                sink.FileCopy(in e, a.Pages);
                break;
            case RequestOp.CompactionTargets:
            {
                var target = new AllocRequest(e.TsNs, e.Cpu, e.Has(EventFields.Pid) ? e.Pid : -1, e.Has(EventFields.Comm) ? e.CommId : -1, -1, 0, 0,
                    Model.Alloc.Migratetype.Movable, ZoneIndex.Normal, Isolated: true);
                for (int k = 0; k < a.Pages; k++)
                {
                    long m = sink.Alloc(in target);
                    if (m < 0) break;
                    if (_isolatedCount == _isolated.Length) Array.Resize(ref _isolated, _isolated.Length * 2);
                    _isolated[_isolatedCount++] = m;
                }
                break;
            }
        }
    }
}
