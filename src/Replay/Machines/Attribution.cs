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
/// Splits one machine's costs among the <see cref="Actor"/>s that caused them. The machine calls <see cref="Settle"/>
/// at the end of every piece of work (an event's own handling, an allocation, a free, the final flush work); what its
/// ledger and counters gained since the last call is added to that actor. Every cost is charged inside some piece of
/// work, so the actors' sums are the policy's totals: exactly for the counts, to rounding for the nanoseconds
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

    // Indexes into a row of MetricNames.
    const int Estimated = 0, CauseNs = 1, Exits = 9, BytesZeroed = 15, Flips = 16, Splits2M = 17, Splits1G = 18, RSplits2M = 19,
        TablePages = 20, RangeFlushes = 21, FlushAll = 22, IpisSent = 23, IpisReceived = 24, Walks = 25, MermapPages = 26, Cow = 27, FileCopyPages = 28;
    // Counters read on every settle; each only grows, so an unchanged set means nothing to attribute.
    const int RawExits = 0, RawBytesZeroed = 5, RawFlips = 6, RawSplits2M = 7, RawSplits1G = 8, RawRSplits2M = 9, RawTablePages = 10,
        RawRangeFlushes = 11, RawGlobal = 12, RawIpisSent = 13, RawIpisReceived = 14, RawIpiRounds = 15, RawInvlpg = 16, RawLocalFull = 17,
        RawInvlpgb = 18, RawWalks = 19, RawMermap = 20, RawCow = 21, RawFileCopyPages = 22, RawCharges = 23, RawCount = 24;

    const int ExitCauseCount = RawBytesZeroed - RawExits;
    // Where each raw counter's delta goes in a row (−1: only into a cost).
    static readonly int[] RawToMetric = BuildRawToMetric();
    // The causes the ledger charges as work happens, with their slot in a row; the other three (model flushes,
    // page-table pages, walks) are settled from counters, as SettledLedger does, through _derivedWeight.
    static readonly (CostCause Cause, int Slot)[] ChargedCauses =
    [
        (CostCause.Zeroing, CauseNs), (CostCause.Copy, CauseNs + 1), (CostCause.TracedTlb, CauseNs + 2),
        (CostCause.AsiTransitions, CauseNs + 3), (CostCause.Mermap, CauseNs + 4),
    ];
    const int ModelFlushesSlot = CauseNs + 5, TablePagesSlot = CauseNs + 6, WalksSlot = CauseNs + 7;
    // Per raw counter: the ns one unit of it costs in a derived cause (CostModel.FlushCounts, TablePageAlloc,
    // PageWalk), and which cause slot.
    readonly double[] _derivedWeight = new double[RawCount];
    static readonly int[] DerivedSlot = BuildDerivedSlots();

    static int[] BuildRawToMetric()
    {
        var m = new int[RawCount];
        Array.Fill(m, -1);
        for (int c = 0; c < ExitCauseCount; c++) m[RawExits + c] = Exits + 1 + c;
        m[RawBytesZeroed] = BytesZeroed; m[RawFlips] = Flips; m[RawSplits2M] = Splits2M; m[RawSplits1G] = Splits1G; m[RawRSplits2M] = RSplits2M;
        m[RawTablePages] = TablePages; m[RawRangeFlushes] = RangeFlushes; m[RawGlobal] = FlushAll; m[RawIpisSent] = IpisSent;
        m[RawIpisReceived] = IpisReceived; m[RawWalks] = Walks; m[RawMermap] = MermapPages; m[RawCow] = Cow; m[RawFileCopyPages] = FileCopyPages;
        return m;
    }

    static int[] BuildDerivedSlots()
    {
        var s = new int[RawCount];
        foreach (int r in new[] { RawInvlpg, RawLocalFull, RawGlobal, RawIpisReceived, RawIpiRounds, RawIpisSent, RawInvlpgb }) s[r] = ModelFlushesSlot;
        s[RawTablePages] = TablePagesSlot;
        s[RawWalks] = WalksSlot;
        return s;
    }

    readonly Machine _m;
    readonly MachineCounters _c;
    readonly FlushCounters _flushes, _flushBase;
    readonly long[] _misses;
    readonly CostLedger _ledger;
    readonly double[] _ns;
    Actor _lastActor;
    int _lastRow = -1;
    long _lastSum, _lastSentinel;
    readonly long[] _last = new long[RawCount], _now = new long[RawCount];
    readonly Dictionary<Actor, int> _index = new();
    readonly List<Actor> _actors = new();
    // Rows in blocks of 256 actors: a new task adds a row without copying the others (the table only grows).
    const int BlockShift = 8;
    readonly List<double[]> _blocks = new();

    public Attribution(Machine machine)
    {
        _m = machine;
        _c = machine.Counters;
        _flushes = machine.Tlb.Counters;
        _flushBase = machine.FlushBase;
        _misses = machine.AccessMisses;
        _ledger = machine.Ledger;
        _ns = machine.Costs.NsVector();
        _derivedWeight[RawInvlpg] = _ns[(int)CostConstant.InvlpgPerPage];
        _derivedWeight[RawLocalFull] = _ns[(int)CostConstant.LocalFullFlush];
        _derivedWeight[RawGlobal] = _ns[(int)CostConstant.GlobalFlush];
        _derivedWeight[RawIpisReceived] = _ns[(int)CostConstant.IpiPerTarget];
        _derivedWeight[RawIpiRounds] = _ns[(int)CostConstant.IpiInitiatorBase];
        _derivedWeight[RawIpisSent] = _ns[(int)CostConstant.IpiInitiatorPerTarget];
        _derivedWeight[RawInvlpgb] = _ns[(int)CostConstant.Invlpgb];
        _derivedWeight[RawTablePages] = _ns[(int)CostConstant.TablePageAlloc];
        _derivedWeight[RawWalks] = _ns[(int)CostConstant.PageWalk];
        // The raw layout has one slot per exit cause.
        if (MachineCounters.ExitCauses != RawBytesZeroed - RawExits) throw new InvalidOperationException("Attribution's raw layout lost track of the exit causes");
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
        Counting = false;
    }

    /// <summary>The value of metric <paramref name="metric"/> (an index of <see cref="MetricNames"/>) for actor <paramref name="actor"/>.</summary>
    public double Value(int actor, int metric) => _blocks[actor >> BlockShift][(actor & ((1 << BlockShift) - 1)) * MetricNames.Length + metric];

    /// <summary>Adds what the machine's ledger and counters gained since the last call to <paramref name="actor"/>;
    /// returns the CPU time (ns) it gained.</summary>
    public double Settle(in Actor actor)
    {
        // Most pieces of work cost nothing. Whatever costs something charges the ledger or walks, flushes or flips (the
        // counters that move without a charge): an unchanged sentinel skips the full read. Were a counter ever to move
        // alone, its delta would go to the next piece that moves a sentinel; every total still sums exactly.
        long sentinel = Sentinel();
        if (sentinel == _lastSentinel) return 0;
        _lastSentinel = sentinel;
        long sum = Read(_now);
        if (sum == _lastSum) return 0;
        _lastSum = sum;
        if (!Counting) return PassOver();
        int index = Row(in actor);
        var v = _blocks[index >> BlockShift];
        int row = (index & ((1 << BlockShift) - 1)) * MetricNames.Length;
        // Only the counters that moved: usually one or two of them.
        double derivedNs = 0;
        long exits = 0;
        var now = _now;
        var last = _last;
        for (int i = 0; i < RawCount; i++)
        {
            long d = now[i] - last[i];
            if (d == 0) continue;
            last[i] = now[i];
            int m = RawToMetric[i];
            if (m >= 0) v[row + m] += d;
            if (i < RawExits + ExitCauseCount) exits += d;
            double w = _derivedWeight[i];
            if (w != 0) v[row + DerivedSlot[i]] += d * w;
            derivedNs += d * w;
        }
        if (exits != 0) v[row + Exits] += exits;
        // The causes the ledger charges as the work happens.
        var pending = _ledger.TakePendingNs();
        double cpu = derivedNs;
        for (int i = 0; i < ChargedCauses.Length; i++)
        {
            double ns = pending[(int)ChargedCauses[i].Cause];
            if (ns == 0) continue;
            v[row + ChargedCauses[i].Slot] += ns;
            cpu += ns;
        }
        v[row + Estimated] += cpu;
        Array.Clear(pending);
        return cpu;
    }

    /// <summary>Moves past what was charged without attributing it (requests outside the window are not logged).</summary>
    double PassOver()
    {
        Array.Clear(_ledger.TakePendingNs());
        _now.AsSpan().CopyTo(_last);
        return 0;
    }

    // Allocations and frees interleave: one remembered actor for each, so neither evicts the other.
    Actor _lastFreeActor;
    int _lastFreeRow = -1;

    int Row(in Actor actor)
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

    long Sentinel()
    {
        var f = _flushes;
        var c = _c;
        return _ledger.Charges + _misses[0] + _misses[1] + f.LocalFullFlushes + f.Invlpg + f.IpisReceived + f.GlobalFlushes
            + c.PageblockFlipsToNonsensitive + c.PageblockFlipsToSensitive;
    }

    /// <summary>Fills <paramref name="raw"/> and returns its sum.</summary>
    long Read(long[] raw)
    {
        var c = _c;
        var e = c.AsiExits;
        raw[RawExits] = e[0]; raw[RawExits + 1] = e[1]; raw[RawExits + 2] = e[2]; raw[RawExits + 3] = e[3]; raw[RawExits + 4] = e[4];
        raw[RawBytesZeroed] = c.BytesZeroed;
        raw[RawFlips] = c.PageblockFlipsToNonsensitive + c.PageblockFlipsToSensitive;
        var d = _m.CpaDirect;
        var r = _m.CpaRestricted;
        raw[RawSplits2M] = d.Splits2M;
        raw[RawSplits1G] = d.Splits1G;
        raw[RawRSplits2M] = r.Splits2M;
        raw[RawTablePages] = d.TablePages + r.TablePages;
        var f = _flushes;
        var b = _flushBase;
        raw[RawRangeFlushes] = f.KernelRangeFlushes - b.KernelRangeFlushes;
        raw[RawGlobal] = f.GlobalFlushes - b.GlobalFlushes;
        raw[RawIpisSent] = f.IpisSent - b.IpisSent;
        raw[RawIpisReceived] = f.IpisReceived - b.IpisReceived;
        raw[RawIpiRounds] = f.IpiRounds - b.IpiRounds;
        raw[RawInvlpg] = f.Invlpg - b.Invlpg;
        raw[RawLocalFull] = f.LocalFullFlushes - b.LocalFullFlushes;
        raw[RawInvlpgb] = f.InvlpgbBroadcasts - b.InvlpgbBroadcasts;
        raw[RawWalks] = _misses[0] + _misses[1];
        raw[RawMermap] = c.MermapPages;
        raw[RawCow] = c.CowCopies;
        raw[RawFileCopyPages] = c.FileCopyPages;
        raw[RawCharges] = _ledger.Charges;
        long n = 0;
        foreach (long v in raw) n += v;
        return n;
    }
}
