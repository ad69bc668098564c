using AsiTrace.Ingest.Canonical;
using global::Parquet;
using global::Parquet.Schema;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// One row group's columns, transposed from events. Filling (on the decode thread) and encoding (on the writer
/// thread) are separate so the two cores share the work: Parquet.Net's encoder is the slower half of ingest.
/// Nullable columns are kept as Parquet stores them: dense non-null values plus one definition level per row,
/// written with <c>WriteAllPartsAsync</c>; going through <c>T?[]</c> made Parquet.Net split them itself.
/// </summary>
public sealed class EventsRowGroup
{
    sealed class NullableColumn<T>(DataField field, int capacity) where T : struct
    {
        public readonly T[] Values = new T[capacity];
        public readonly int[] Defined = new int[capacity];
        public int Count;

        public void Add(int row, bool has, T value)
        {
            Defined[row] = has ? 1 : 0;
            if (has) Values[Count++] = value;
        }

        public async ValueTask WriteAsync(ParquetRowGroupWriter rg, int rows)
        {
            await rg.WriteAllPartsAsync(field, (ReadOnlyMemory<T>)Values.AsMemory(0, Count), (ReadOnlyMemory<int>)Defined.AsMemory(0, rows), null, default);
        }

        public void Clear() => Count = 0;
    }

    // Kind names and comms as the ReadOnlyMemory<char> Parquet.Net's string columns take, made once per name.
    static readonly ReadOnlyMemory<char>[] KindText = BuildKindText();
    readonly CommTextCache _commText;
    readonly CommTable? _callSites;
    readonly CommTextCache _callSiteText = new();
    readonly NullableColumn<ReadOnlyMemory<char>>? _callSite;

    readonly long[] _ts; readonly ushort[] _cpu; readonly ReadOnlyMemory<char>[] _kind;
    readonly NullableColumn<ReadOnlyMemory<char>> _comm;
    readonly NullableColumn<int> _pid, _prevPid, _nextPid;
    readonly NullableColumn<ulong> _pfn, _gfp, _ino, _index;
    readonly NullableColumn<byte> _order, _tlbReason;
    readonly NullableColumn<sbyte> _mt, _fbOrder, _allocMt, _fbMt;
    readonly NullableColumn<bool> _refill, _chown;
    readonly NullableColumn<long> _tlbPages, _prevState, _lost;
    readonly NullableColumn<uint> _dev;

    public int Capacity { get; }
    public int Count { get; private set; }
    public bool IsFull => Count == Capacity;

    internal EventsRowGroup(int capacity, CommTextCache commText, CommTable? callSites)
    {
        Capacity = capacity;
        _commText = commText;
        _callSites = callSites;
        if (callSites is not null) _callSite = new(EventsSchema.CallSite, capacity);
        int n = capacity;
        _ts = new long[n]; _cpu = new ushort[n]; _kind = new ReadOnlyMemory<char>[n];
        _comm = new(EventsSchema.Comm, n);
        _pid = new(EventsSchema.Pid, n); _prevPid = new(EventsSchema.PrevPid, n); _nextPid = new(EventsSchema.NextPid, n);
        _pfn = new(EventsSchema.Pfn, n); _gfp = new(EventsSchema.Gfp, n); _ino = new(EventsSchema.Ino, n); _index = new(EventsSchema.Index, n);
        _order = new(EventsSchema.Order, n); _tlbReason = new(EventsSchema.TlbReason, n);
        _mt = new(EventsSchema.Migratetype, n); _fbOrder = new(EventsSchema.FallbackOrder, n);
        _allocMt = new(EventsSchema.AllocMigratetype, n); _fbMt = new(EventsSchema.FallbackMigratetype, n);
        _refill = new(EventsSchema.PercpuRefill, n); _chown = new(EventsSchema.ChangeOwnership, n);
        _tlbPages = new(EventsSchema.TlbPages, n); _prevState = new(EventsSchema.PrevState, n); _lost = new(EventsSchema.Lost, n);
        _dev = new(EventsSchema.Dev, n);
    }

    /// <summary>Appends as many of <paramref name="events"/> as fit; returns how many were taken.</summary>
    public int Fill(ReadOnlySpan<TraceEvent> events, CommTable comms)
    {
        int n = Count;
        int take = Math.Min(events.Length, Capacity - n);
        foreach (ref readonly var e in events[..take])
        {
            var f = e.Fields;
            _ts[n] = e.TsNs;
            _cpu[n] = e.Cpu;
            _pid.Add(n, (f & EventFields.Pid) != 0, e.Pid);
            bool hasComm = (f & EventFields.Comm) != 0;
            _comm.Add(n, hasComm, hasComm ? _commText.Get(comms, e.CommId) : default);
            _kind[n] = KindText[(int)e.Kind];
            _pfn.Add(n, (f & EventFields.Pfn) != 0, e.Pfn);
            _order.Add(n, (f & EventFields.Order) != 0, e.Order);
            _gfp.Add(n, (f & EventFields.Gfp) != 0, e.Gfp);
            _mt.Add(n, (f & EventFields.Migratetype) != 0, e.Migratetype);
            _refill.Add(n, (f & EventFields.PercpuRefill) != 0, e.PercpuRefill != 0);
            _fbOrder.Add(n, (f & EventFields.FallbackOrder) != 0, e.FallbackOrder);
            _allocMt.Add(n, (f & EventFields.AllocMigratetype) != 0, e.AllocMigratetype);
            _fbMt.Add(n, (f & EventFields.FallbackMigratetype) != 0, e.FallbackMigratetype);
            _chown.Add(n, (f & EventFields.ChangeOwnership) != 0, e.ChangeOwnership != 0);
            _tlbReason.Add(n, (f & EventFields.TlbReason) != 0, e.TlbReason);
            _tlbPages.Add(n, (f & EventFields.TlbPages) != 0, e.TlbPages);
            _prevPid.Add(n, (f & EventFields.PrevPid) != 0, e.PrevPid);
            _nextPid.Add(n, (f & EventFields.NextPid) != 0, e.NextPid);
            _prevState.Add(n, (f & EventFields.PrevState) != 0, e.PrevState);
            _ino.Add(n, (f & EventFields.Ino) != 0, e.Ino);
            _index.Add(n, (f & EventFields.Index) != 0, e.Index);
            _dev.Add(n, (f & EventFields.Dev) != 0, e.Dev);
            _lost.Add(n, (f & EventFields.Lost) != 0, e.Lost);
            if (_callSite is not null)
            {
                bool has = (f & EventFields.CallSite) != 0;
                _callSite.Add(n, has, has ? _callSiteText.Get(_callSites!, e.CallSiteId) : default);
            }
            n++;
        }
        Count = n;
        return take;
    }

    internal async ValueTask WriteToAsync(ParquetRowGroupWriter rg)
    {
        int n = Count;
        await rg.WriteAsync(EventsSchema.TsNs, (ReadOnlyMemory<long>)_ts.AsMemory(0, n));
        await rg.WriteAsync(EventsSchema.Cpu, (ReadOnlyMemory<ushort>)_cpu.AsMemory(0, n));
        await _pid.WriteAsync(rg, n);
        await _comm.WriteAsync(rg, n);
        await rg.WriteAsync(EventsSchema.Kind, (ReadOnlyMemory<ReadOnlyMemory<char>>)_kind.AsMemory(0, n), null, null, default);
        await _pfn.WriteAsync(rg, n);
        await _order.WriteAsync(rg, n);
        await _gfp.WriteAsync(rg, n);
        await _mt.WriteAsync(rg, n);
        await _refill.WriteAsync(rg, n);
        await _fbOrder.WriteAsync(rg, n);
        await _allocMt.WriteAsync(rg, n);
        await _fbMt.WriteAsync(rg, n);
        await _chown.WriteAsync(rg, n);
        await _tlbReason.WriteAsync(rg, n);
        await _tlbPages.WriteAsync(rg, n);
        await _prevPid.WriteAsync(rg, n);
        await _nextPid.WriteAsync(rg, n);
        await _prevState.WriteAsync(rg, n);
        await _ino.WriteAsync(rg, n);
        await _index.WriteAsync(rg, n);
        await _dev.WriteAsync(rg, n);
        await _lost.WriteAsync(rg, n);
        if (_callSite is not null) await _callSite.WriteAsync(rg, n);
    }

    public void Clear()
    {
        Count = 0;
        _comm.Clear(); _pid.Clear(); _prevPid.Clear(); _nextPid.Clear(); _pfn.Clear(); _gfp.Clear(); _ino.Clear(); _index.Clear();
        _order.Clear(); _tlbReason.Clear(); _mt.Clear(); _fbOrder.Clear(); _allocMt.Clear(); _fbMt.Clear(); _refill.Clear();
        _chown.Clear(); _tlbPages.Clear(); _prevState.Clear(); _lost.Clear(); _dev.Clear();
        _callSite?.Clear();
    }

    static ReadOnlyMemory<char>[] BuildKindText()
    {
        var a = new ReadOnlyMemory<char>[EventKinds.Count];
        for (int k = 0; k < a.Length; k++) a[k] = EventKinds.Name((EventKind)k).AsMemory();
        return a;
    }
}

/// <summary>Comm id → the comm as <c>ReadOnlyMemory&lt;char&gt;</c>, built once per comm. Used from one thread at a time.</summary>
sealed class CommTextCache
{
    ReadOnlyMemory<char>[] _text = new ReadOnlyMemory<char>[256];
    int _count;

    public ReadOnlyMemory<char> Get(CommTable comms, int id)
    {
        if (id >= _text.Length) Array.Resize(ref _text, Math.Max(id + 1, _text.Length * 2));
        while (_count <= id && _count < comms.Count)
        {
            _text[_count] = comms[_count].AsMemory();
            _count++;
        }
        return _text[id];
    }
}
