using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Tlb;
using AsiTrace.Replay.Requests;
using M = AsiTrace.Replay.Results.Metrics;

namespace AsiTrace.Replay.Machines;

/// <summary>What kind of work an <see cref="Actor"/> stands for.</summary>
public enum ActorKind : byte
{
    /// <summary>The policy's set-up before the first event (its initial pageblock layout).</summary>
    ReplayStart,
    /// <summary>An allocation the trace shows (<c>mm_page_alloc</c>).</summary>
    Allocation,
    /// <summary>A page no traced allocation gave (a bulk allocation's page), placed so that its free can be replayed.</summary>
    UntracedAllocation,
    /// <summary>A free page compaction isolated as a migration target.</summary>
    CompactionTarget,
    /// <summary>A free the trace shows.</summary>
    Free,
    /// <summary>Any other event: a context switch, a kernel entry, a page-cache fill, a read()/write() copy, a traced flush,
    /// or time-driven work (pcp decay) that fell due at it.</summary>
    Event,
    /// <summary>Work the policy finished after the last event (deferred unmaps and flushes).</summary>
    TraceEnd,
}

/// <summary>
/// Who caused a cost: the task, call site and event of the trace, and for allocations their gfp flags, order and
/// migratetype. One actor per distinct combination; the report groups actors by one of these at a time.
/// </summary>
public readonly record struct Actor(ActorKind Kind, int Pid, int CommId, int CallSiteId, ulong Gfp, int Order, int Migratetype, EventKind Event)
{
    // Compared and hashed on every attributed piece of work: plain field compares, not the record's per-field comparers.
    public bool Equals(Actor o) => Pid == o.Pid && Gfp == o.Gfp && CommId == o.CommId && CallSiteId == o.CallSiteId && Order == o.Order
        && Migratetype == o.Migratetype && Kind == o.Kind && Event == o.Event;

    public override int GetHashCode()
    {
        ulong h = (ulong)(uint)Pid * 0x9E3779B97F4A7C15UL ^ Gfp * 0xC2B2AE3D27D4EB4FUL ^ (ulong)(uint)CommId << 20 ^ (ulong)(uint)CallSiteId << 40
            ^ (ulong)(uint)Order << 8 ^ (ulong)(uint)Migratetype << 13 ^ (ulong)Kind << 16 ^ (ulong)Event << 24;
        return (int)(h ^ h >> 29);
    }

    public static readonly Actor Start = new(ActorKind.ReplayStart, -1, -1, -1, 0, -1, -1, EventKind.None);
    public static readonly Actor End = new(ActorKind.TraceEnd, -1, -1, -1, 0, -1, -1, EventKind.None);

    public static Actor Of(in TraceEvent e) => new(ActorKind.Event, e.Has(EventFields.Pid) ? e.Pid : -1, e.Has(EventFields.Comm) ? e.CommId : -1,
        e.Has(EventFields.CallSite) ? e.CallSiteId : -1, 0, -1, -1, e.Kind);

    public static Actor Of(in AllocRequest r)
    {
        var kind = r.Isolated ? ActorKind.CompactionTarget : r.Ordinal < 0 ? ActorKind.UntracedAllocation : ActorKind.Allocation;
        return new(kind, r.Pid, r.CommId, r.CallSiteId, r.Gfp, r.Order, r.Migratetype, EventKind.MmPageAlloc);
    }
}

/// <summary>
/// Splits one machine's costs among the <see cref="Actor"/>s that caused them. The machine opens a piece of work with
/// <see cref="Begin"/> (an event's own handling, an allocation, a free, the final flush work) and closes it with
/// <see cref="End"/>. What is charged in between goes to that piece's actor as it is charged: the ledger's nanoseconds,
/// bytes zeroed, exits, walks, copies, flips, splits, page-table pages and the model's flushes. Nothing is read back at
/// a piece's end, so a piece that costs nothing costs the attribution nothing. Every cost is charged inside some piece,
/// so the actors' sums are the policy's totals: exactly for the counts, to rounding for the nanoseconds
/// (docs/attribution.md).
/// </summary>
public sealed class Attribution
{
    /// <summary>The attributed metrics, named as in <c>totals.parquet</c>.</summary>
    public static readonly string[] MetricNames =
    [
        M.EstimatedNs.Name, M.CostZeroingNs.Name, M.CostCopyNs.Name, M.CostTlbNs.Name, M.CostAsiTransitionsNs.Name, M.CostMermapNs.Name,
        M.CostModelFlushesNs.Name, M.CostPageTablePagesNs.Name, M.CostTlbMissesNs.Name,
        M.AsiExits.Name, M.AsiExitsPageCache.Name, M.AsiExitsZeroing.Name, M.AsiExitsCow.Name, M.AsiExitsContextSwitch.Name, M.AsiExitsOther.Name,
        M.BytesZeroed.Name, M.PageblockFlips.Name, M.DirectMapSplits2M.Name, M.DirectMapSplits1G.Name, M.RestrictedMapSplits2M.Name,
        M.PageTablePages.Name, M.KernelRangeFlushes.Name, M.TlbFlushAll.Name, M.IpisSent.Name, M.IpisReceived.Name, M.TlbMisses.Name,
        M.MermapPages.Name, M.CowCopies.Name, M.FileCopyPages.Name,
    ];

    // Slots of a row (indexes of MetricNames).
    public const int Estimated = 0, ExitsTotal = 9, BytesZeroedSlot = 15, WalksSlot = 25, MermapPagesSlot = 26, CowSlot = 27, FileCopyPagesSlot = 28;
    public const int FlipsSlot = 16, Splits2MSlot = 17, Splits1GSlot = 18, RestrictedSplits2MSlot = 19;
    const int TablePages = 20, RangeFlushes = 21, FlushAll = 22, IpisSent = 23, IpisReceived = 24;
    const int ModelFlushesNs = 6, TablePagesNs = 7, WalksNs = 8;
    /// <summary>The row slot of an exit cause's count.</summary>
    public static int ExitSlot(ExitCause c) => ExitsTotal + 1 + (int)c;
    // The row slot of each ledger cause's nanoseconds (−1: not CPU time, the initiator's wait).
    static readonly int[] CauseSlot = BuildCauseSlots();

    static int[] BuildCauseSlots()
    {
        var s = new int[CostLedger.Causes];
        s[(int)CostCause.Zeroing] = 1; s[(int)CostCause.Copy] = 2; s[(int)CostCause.TracedTlb] = 3; s[(int)CostCause.AsiTransitions] = 4;
        s[(int)CostCause.Mermap] = 5; s[(int)CostCause.ModelFlushes] = ModelFlushesNs; s[(int)CostCause.PageTablePages] = TablePagesNs;
        s[(int)CostCause.TlbMisses] = WalksNs; s[(int)CostCause.InitiatorFlushes] = -1;
        return s;
    }

    readonly CostModel _costs;
    readonly double _walkNs, _tablePageNs;
    readonly Dictionary<Actor, int> _index = new();
    readonly List<Actor> _actors = new();
    // Rows in blocks of 256 actors: a new task adds a row without copying the others (the table only grows).
    const int BlockShift = 8;
    readonly List<double[]> _blocks = new();
    // The open piece: its actor, and its row once something was charged to it.
    Actor _actor = Actor.Start;
    double[]? _row;
    int _rowAt;
    double _pieceNs;
    // The last actors looked up: allocations and frees interleave, so one each.
    Actor _lastActor, _lastFreeActor;
    int _lastRow = -1, _lastFreeRow = -1;

    public Attribution(CostModel costs)
    {
        _costs = costs;
        var ns = costs.NsVector();
        _walkNs = ns[(int)CostConstant.PageWalk];
        _tablePageNs = ns[(int)CostConstant.TablePageAlloc];
    }

    public IReadOnlyList<Actor> Actors => _actors;

    /// <summary>False before a <c>--window</c>: what is charged then is passed over, not attributed.</summary>
    public bool Counting { get; set; } = true;

    /// <summary>Forgets what was attributed so far and passes over what comes until <see cref="Counting"/> is set again.</summary>
    public void StopCounting()
    {
        _blocks.Clear();
        _actors.Clear();
        _index.Clear();
        _lastRow = _lastFreeRow = -1;
        _row = null;
        Counting = false;
    }

    /// <summary>The value of metric <paramref name="metric"/> (an index of <see cref="MetricNames"/>) for actor <paramref name="actor"/>.</summary>
    public double Value(int actor, int metric) => _blocks[actor >> BlockShift][(actor & ((1 << BlockShift) - 1)) * MetricNames.Length + metric];

    /// <summary>Opens a piece of work done for <paramref name="actor"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Begin(in Actor actor)
    {
        _actor = actor;
        _row = null;
        _pieceNs = 0;
    }

    /// <summary>Closes the piece; returns the CPU time (ns) it cost.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double End() => _pieceNs;

    /// <summary>What a model flush did (<paramref name="flush"/>: the flush counters' change across it): its calls
    /// and IPIs, and its cost as the ledger settles it.</summary>
    public void AddFlushes(in FlushTally flush)
    {
        if (!Counting) return;
        var (v, row) = Row();
        v[row + RangeFlushes] += flush.KernelRangeFlushes;
        v[row + FlushAll] += flush.GlobalFlushes;
        v[row + IpisSent] += flush.IpisSent;
        v[row + IpisReceived] += flush.IpisReceived;
        double ns = _costs.FlushNs(in flush);
        v[row + ModelFlushesNs] += ns;
        v[row + Estimated] += ns;
        _pieceNs += ns;
    }

    /// <summary>Page-table pages a split allocated, and their cost.</summary>
    public void AddTablePages(long n)
    {
        if (!Counting || n == 0) return;
        var (v, row) = Row();
        v[row + TablePages] += n;
        v[row + TablePagesNs] += n * _tablePageNs;
        v[row + Estimated] += n * _tablePageNs;
        _pieceNs += n * _tablePageNs;
    }

    /// <summary>Nanoseconds the ledger charged to <paramref name="cause"/> in the open piece.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddNs(CostCause cause, double ns)
    {
        int slot = CauseSlot[(int)cause];
        if (slot < 0 || !Counting) return;
        var (v, row) = Row();
        v[row + slot] += ns;
        v[row + Estimated] += ns;
        _pieceNs += ns;
    }

    /// <summary><paramref name="n"/> more of the counted metric in <paramref name="slot"/> (bytes zeroed, an exit, a copy, ...).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddCount(int slot, long n)
    {
        if (!Counting) return;
        var (v, row) = Row();
        v[row + slot] += n;
        if (slot > ExitsTotal && slot <= ExitsTotal + MachineCounters.ExitCauses) v[row + ExitsTotal] += n;
    }

    /// <summary>A kernel load that walked the page tables: a TLB miss and its walk's cost.</summary>
    public void AddWalk()
    {
        if (!Counting) return;
        var (v, row) = Row();
        v[row + WalksSlot] += 1;
        v[row + WalksNs] += _walkNs;
        v[row + Estimated] += _walkNs;
        _pieceNs += _walkNs;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    (double[] Block, int At) Row()
    {
        if (_row is null)
        {
            int i = Lookup(in _actor);
            _row = _blocks[i >> BlockShift];
            _rowAt = (i & ((1 << BlockShift) - 1)) * MetricNames.Length;
        }
        return (_row, _rowAt);
    }

    int Lookup(in Actor actor)
    {
        if (actor.Kind == ActorKind.Free)
        {
            if (_lastFreeRow >= 0 && _lastFreeActor.Equals(actor)) return _lastFreeRow;
            _lastFreeActor = actor;
            return _lastFreeRow = RowOf(in actor);
        }
        if (_lastRow >= 0 && _lastActor.Equals(actor)) return _lastRow;
        _lastActor = actor;
        return _lastRow = RowOf(in actor);
    }

    int RowOf(in Actor actor)
    {
        if (_index.TryGetValue(actor, out int i)) return i;
        i = _actors.Count;
        _actors.Add(actor);
        _index[actor] = i;
        if ((i >> BlockShift) == _blocks.Count) _blocks.Add(new double[(1 << BlockShift) * MetricNames.Length]);
        return i;
    }
}
