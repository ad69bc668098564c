using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Machines;

/// <summary>Allocations by order, migratetype and class, for the allocation-mix chart.</summary>
public sealed class AllocationMix
{
    // Orders above this are not real page-allocator requests (MAX_PAGE_ORDER is 10; gigantic pages come from elsewhere).
    const int MaxOrder = 20;
    static readonly int Classes = Enum.GetValues<Sensitivity>().Length;
    readonly long[] _counts = new long[(MaxOrder + 1) * Migratetype.Count * Classes];

    public void Add(in AllocRequest r)
    {
        if (r.Order <= MaxOrder && (uint)r.Migratetype < Migratetype.Count)
            _counts[(r.Order * Migratetype.Count + r.Migratetype) * Classes + (int)r.Class]++;
    }

    public Dictionary<(int Order, int Mt, Sensitivity Class), long> ToDictionary()
    {
        var d = new Dictionary<(int, int, Sensitivity), long>();
        for (int i = 0; i < _counts.Length; i++)
            if (_counts[i] != 0) d[(i / (Migratetype.Count * Classes), i / Classes % Migratetype.Count, (Sensitivity)(i % Classes))] = _counts[i];
        return d;
    }
}
