using AsiTrace.Model.Paging;

namespace AsiTrace.Replay.Machines;

/// <summary>Split and page-table-page counts of one map's CPA calls during the replay (the initial layout's excluded).</summary>
public sealed class CpaTotals
{
    readonly Machine _owner;
    readonly DirectMap? _map;
    readonly long _l2Base, _l3Base;

    public CpaTotals(Machine owner, DirectMap? map)
    {
        _owner = owner; _map = map;
        _l2Base = map?.Level2Splits ?? 0;
        _l3Base = map?.Level3Splits ?? 0;
    }

    public long TablePages { get; private set; }
    public long Splits2M => _map is null ? 0 : _map.Level2Splits - _l2Base;
    public long Splits1G => _map is null ? 0 : _map.Level3Splits - _l3Base;

    /// <summary>A split flushes the whole TLB everywhere (<c>__split_large_page</c> → <c>flush_tlb_all()</c>).</summary>
    public void Add(CpaResult r, int cpu)
    {
        TablePages += r.TablePages;
        var a = _owner.Attribution;
        a.AddTablePages(r.TablePages);
        if (_map is not null && _map.Options.Restricted) a.AddCount(Attribution.RestrictedSplits2MSlot, r.Splits2M);
        else
        {
            a.AddCount(Attribution.Splits2MSlot, r.Splits2M);
            a.AddCount(Attribution.Splits1GSlot, r.Splits1G);
        }
        for (int i = 0; i < r.SplitFlushes; i++) _owner.FlushAll(cpu);
    }
}
