using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// One row group's columns, transposed from events, as Parquet stores them: present values packed densely plus a
/// presence bitmap per nullable column. Filling runs on the decode thread and encoding on the writer thread, so the
/// two cores share the work (<see cref="Pipeline.EventsPipelines.ToParquet"/>).
/// </summary>
public sealed class EventsRowGroup
{
    abstract class Column(int capacity, bool optional)
    {
        public readonly bool Optional = optional;
        public readonly byte[] Present = optional ? new byte[(capacity + 7) / 8] : [];
        public int Count;
        protected void Mark(int row) => Present[row >> 3] |= (byte)(1 << (row & 7));
        public virtual void Clear(int rows) { if (Optional) Array.Clear(Present, 0, (rows + 7) / 8); Count = 0; }
        public abstract ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch);
        /// <summary>Min and max of the present values, for the footer's statistics (integers only).</summary>
        public virtual ColumnStats? Stats() => null;
    }

    /// <summary>Min and max in signed order and, for columns of an unsigned logical type, in unsigned order.</summary>
    static ColumnStats? Range<T, TUnsigned>(ReadOnlySpan<T> v) where T : System.Numerics.IBinaryInteger<T> where TUnsigned : System.Numerics.IBinaryInteger<TUnsigned>
    {
        if (v.IsEmpty) return null;
        T min = v[0], max = v[0];
        TUnsigned umin = TUnsigned.CreateTruncating(v[0]), umax = umin;
        foreach (T x in v)
        {
            if (x < min) min = x;
            if (x > max) max = x;
            var u = TUnsigned.CreateTruncating(x);
            if (u < umin) umin = u;
            if (u > umax) umax = u;
        }
        return new ColumnStats(long.CreateTruncating(min), long.CreateTruncating(max), long.CreateTruncating(umin), long.CreateTruncating(umax));
    }

    sealed class Int64Column(int capacity, bool optional) : Column(capacity, optional)
    {
        readonly long[] _v = new long[capacity];
        public void Add(int row, bool has, long value) { if (!has) return; if (Optional) Mark(row); _v[Count++] = value; }
        public override ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch) => LittleEndian(MemoryMarshal.AsBytes(_v.AsSpan(0, Count)), 8, scratch);
        public override ColumnStats? Stats() => Range<long, ulong>(_v.AsSpan(0, Count));
    }

    /// <summary>A required, mostly increasing int64 column (timestamps) written DELTA_BINARY_PACKED.</summary>
    sealed class DeltaInt64Column(int capacity) : Column(capacity, false)
    {
        readonly long[] _v = new long[capacity];
        public void Add(long value) => _v[Count++] = value;
        public override ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch)
        {
            scratch.ResetWrittenCount();
            ParquetFileWriter.DeltaBinaryPacked(_v.AsSpan(0, Count), scratch);
            return scratch.WrittenSpan;
        }
        public override ColumnStats? Stats() => Range<long, ulong>(_v.AsSpan(0, Count));
    }

    sealed class Int32Column(int capacity, bool optional) : Column(capacity, optional)
    {
        readonly int[] _v = new int[capacity];
        public void Add(int row, bool has, int value) { if (!has) return; if (Optional) Mark(row); _v[Count++] = value; }
        public override ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch) => LittleEndian(MemoryMarshal.AsBytes(_v.AsSpan(0, Count)), 4, scratch);
        public override ColumnStats? Stats() => Range<int, uint>(_v.AsSpan(0, Count));
    }

    /// <summary>PLAIN booleans are bit-packed, LSB first.</summary>
    sealed class BoolColumn(int capacity, bool optional) : Column(capacity, optional)
    {
        readonly byte[] _bits = new byte[(capacity + 7) / 8];
        public void Add(int row, bool has, bool value)
        {
            if (!has) return;
            if (Optional) Mark(row);
            if (value) _bits[Count >> 3] |= (byte)(1 << (Count & 7));
            Count++;
        }
        public override void Clear(int rows) { Array.Clear(_bits, 0, (Count + 7) / 8); base.Clear(rows); }
        public override ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch) => _bits.AsSpan(0, (Count + 7) / 8);
    }

    /// <summary>Strings by id into a UTF-8 table; PLAIN is a 4-byte length then the bytes.</summary>
    sealed class StringColumn(int capacity, bool optional, Func<int, byte[]> utf8) : Column(capacity, optional)
    {
        readonly int[] _ids = new int[capacity];
        public void Add(int row, bool has, int id) { if (!has) return; if (Optional) Mark(row); _ids[Count++] = id; }
        public override ReadOnlySpan<byte> Plain(ArrayBufferWriter<byte> scratch)
        {
            scratch.ResetWrittenCount();
            int last = -1; byte[] bytes = [];
            for (int i = 0; i < Count; i++)
            {
                int id = _ids[i];
                if (id != last) { bytes = utf8(id); last = id; }
                var span = scratch.GetSpan(4 + bytes.Length);
                BinaryPrimitives.WriteInt32LittleEndian(span, bytes.Length);
                bytes.CopyTo(span[4..]);
                scratch.Advance(4 + bytes.Length);
            }
            return scratch.WrittenSpan;
        }
    }

    static ReadOnlySpan<byte> LittleEndian(ReadOnlySpan<byte> native, int width, ArrayBufferWriter<byte> scratch)
    {
        if (BitConverter.IsLittleEndian) return native;
        scratch.ResetWrittenCount();
        var dst = scratch.GetSpan(native.Length);
        for (int i = 0; i < native.Length; i += width) native.Slice(i, width).CopyTo(dst.Slice(i, width));
        for (int i = 0; i < native.Length; i += width) dst.Slice(i, width).Reverse();
        scratch.Advance(native.Length);
        return scratch.WrittenSpan;
    }

    // /proc/pagetypeinfo's names; a value past them is written as its number.
    static readonly byte[][] MigratetypeNames = [Encoding.UTF8.GetBytes("Unmovable"), Encoding.UTF8.GetBytes("Movable"),
        Encoding.UTF8.GetBytes("Reclaimable"), Encoding.UTF8.GetBytes("HighAtomic"), Encoding.UTF8.GetBytes("CMA"), Encoding.UTF8.GetBytes("Isolate")];
    static byte[] MigratetypeUtf8(int mt) =>
        (uint)mt < (uint)MigratetypeNames.Length ? MigratetypeNames[mt] : Encoding.UTF8.GetBytes(mt.ToString(System.Globalization.CultureInfo.InvariantCulture));

    static readonly byte[][] KindUtf8 = BuildKindUtf8();
    readonly Utf8Cache _commUtf8;
    readonly Utf8Cache? _callSiteUtf8;
    CommTable? _comms;

    readonly DeltaInt64Column _ts;
    readonly Int64Column _pfn, _gfp, _tlbPages, _prevState, _ino, _index, _lost, _bytes, _migrated;
    readonly Int32Column _cpu, _pid, _order, _mt, _fbOrder, _allocMt, _fbMt, _tlbReason, _prevPid, _nextPid, _dev, _migrateReason;
    readonly BoolColumn _refill, _chown;
    readonly StringColumn _comm, _kind;
    readonly StringColumn? _callSite;
    readonly StringColumn _gfpNames, _mtName;
    readonly GfpNameCache _gfpNameCache;
    readonly Column[] _inSchemaOrder;

    public int Capacity { get; }
    public int Count { get; private set; }
    public bool IsFull => Count == Capacity;

    internal EventsRowGroup(int capacity, Utf8Cache commUtf8, Utf8Cache? callSiteUtf8, GfpNameCache gfpNames)
    {
        _gfpNameCache = gfpNames;
        Capacity = capacity;
        _commUtf8 = commUtf8;
        _callSiteUtf8 = callSiteUtf8;
        int n = capacity;
        _ts = new(n); _cpu = new(n, false); _pid = new(n, true);
        _comm = new(n, true, id => _commUtf8.Get(_comms!, id));
        _kind = new(n, false, id => KindUtf8[id]);
        _pfn = new(n, true); _order = new(n, true); _gfp = new(n, true); _mt = new(n, true); _refill = new(n, true);
        _fbOrder = new(n, true); _allocMt = new(n, true); _fbMt = new(n, true); _chown = new(n, true);
        _tlbReason = new(n, true); _tlbPages = new(n, true); _prevPid = new(n, true); _nextPid = new(n, true); _prevState = new(n, true);
        _ino = new(n, true); _index = new(n, true); _dev = new(n, true); _lost = new(n, true); _bytes = new(n, true);
        _migrated = new(n, true); _migrateReason = new(n, true);
        _gfpNames = new(n, true, gfpNames.Utf8);
        _mtName = new(n, true, MigratetypeUtf8);
        if (callSiteUtf8 is not null) _callSite = new(n, true, id => callSiteUtf8.Get(null, id));
        var order = new List<Column> { _ts, _cpu, _pid, _comm, _kind, _pfn, _order, _gfp, _mt, _refill, _fbOrder, _allocMt, _fbMt, _chown,
            _tlbReason, _tlbPages, _prevPid, _nextPid, _prevState, _ino, _index, _dev, _lost, _bytes, _migrated, _migrateReason, _gfpNames, _mtName };
        if (_callSite is not null) order.Add(_callSite);
        _inSchemaOrder = [.. order];
    }

    /// <summary>Appends as many of <paramref name="events"/> as fit; returns how many were taken.</summary>
    public int Fill(ReadOnlySpan<TraceEvent> events, CommTable comms)
    {
        _comms = comms;
        int n = Count;
        int take = Math.Min(events.Length, Capacity - n);
        foreach (ref readonly var e in events[..take])
        {
            var f = e.Fields;
            _ts.Add(e.TsNs);
            _cpu.Add(n, true, e.Cpu);
            _pid.Add(n, (f & EventFields.Pid) != 0, e.Pid);
            _comm.Add(n, (f & EventFields.Comm) != 0, e.CommId);
            _kind.Add(n, true, (int)e.Kind);
            _pfn.Add(n, (f & EventFields.Pfn) != 0, (long)e.Pfn);
            _order.Add(n, (f & EventFields.Order) != 0, e.Order);
            _gfp.Add(n, (f & EventFields.Gfp) != 0, (long)e.Gfp);
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
            _ino.Add(n, (f & EventFields.Ino) != 0, (long)e.Ino);
            _index.Add(n, (f & EventFields.Index) != 0, (long)e.Index);
            _dev.Add(n, (f & EventFields.Dev) != 0, (int)e.Dev);
            _lost.Add(n, (f & EventFields.Lost) != 0, e.Lost);
            _bytes.Add(n, (f & EventFields.Bytes) != 0, e.Bytes);
            _migrated.Add(n, (f & EventFields.MigratedPages) != 0, e.MigratedPages);
            _migrateReason.Add(n, (f & EventFields.MigrateReason) != 0, e.MigrateReason);
            _gfpNames.Add(n, (f & EventFields.Gfp) != 0, (f & EventFields.Gfp) != 0 ? _gfpNameCache.Id(e.Gfp) : 0);
            _mtName.Add(n, (f & EventFields.Migratetype) != 0, e.Migratetype);
            _callSite?.Add(n, (f & EventFields.CallSite) != 0, e.CallSiteId);
            n++;
        }
        Count = n;
        return take;
    }

    internal void WriteTo(ParquetFileWriter w, ArrayBufferWriter<byte> scratch)
    {
        w.BeginRowGroup(Count);
        foreach (var c in _inSchemaOrder) w.WriteColumn(c.Present, c.Plain(scratch), c.Stats(), Count - c.Count);
        w.EndRowGroup();
    }

    public void Clear()
    {
        foreach (var c in _inSchemaOrder) c.Clear(Count);
        Count = 0;
    }

    static byte[][] BuildKindUtf8()
    {
        var a = new byte[EventKinds.Count][];
        for (int k = 0; k < a.Length; k++) a[k] = Encoding.UTF8.GetBytes(EventKinds.Name((EventKind)k));
        return a;
    }
}

/// <summary>Name id → UTF-8 bytes, built once per name (comms, call sites). Used from one thread at a time.</summary>
/// <summary>gfp values to their names as the kernel prints them, shared by a file's row groups (filled on other threads):
/// ids are handed out once per distinct value; the hot path is a lock-free lookup.</summary>
sealed class GfpNameCache(GfpTable table)
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, int> _ids = new();
    readonly List<byte[]> _utf8 = new();

    public int Id(ulong gfp)
    {
        if (_ids.TryGetValue(gfp, out int id)) return id;
        lock (_utf8)
        {
            if (_ids.TryGetValue(gfp, out id)) return id;
            _utf8.Add(Encoding.UTF8.GetBytes(table.FormatKernelStyle(gfp)));
            id = _utf8.Count - 1;
            _ids[gfp] = id;
            return id;
        }
    }

    public byte[] Utf8(int id) { lock (_utf8) return _utf8[id]; }
}

sealed class Utf8Cache(CommTable? fixedTable = null)
{
    byte[][] _utf8 = new byte[256][];
    int _count;

    public byte[] Get(CommTable? table, int id)
    {
        table = fixedTable ?? table!;
        if (id >= _utf8.Length) Array.Resize(ref _utf8, Math.Max(id + 1, _utf8.Length * 2));
        while (_count <= id && _count < table.Count) { _utf8[_count] = Encoding.UTF8.GetBytes(table[_count]); _count++; }
        return _utf8[id];
    }
}
