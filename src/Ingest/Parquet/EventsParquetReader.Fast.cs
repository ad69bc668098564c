using System.Buffers.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// The path for files this tool wrote (<c>created_by = asitrace</c>): <see cref="OwnPageDecoder"/> reads each column
/// chunk straight into a plain array (no nullable cells, no per-value delegate) and ORs the column's
/// <see cref="EventFields"/> bit into the row's mask where the cell is present; <see cref="ReadFast"/> then assembles
/// events with no per-column branches. Kind, comm and call site become ids, never strings.
/// </summary>
public sealed partial class EventsParquetReader : IFieldProjection
{
    EventFields _wanted = (EventFields)uint.MaxValue;
    bool _wantComms = true;

    /// <summary>Skips the column chunks of fields not in <paramref name="fields"/> (not read, not decompressed) in this
    /// tool's files; Parquet.Net's path decodes everything regardless.</summary>
    public void OnlyFields(EventFields fields, bool comms)
    {
        _wanted = fields;
        _wantComms = comms;
    }

    static T[][] Empty<T>(int n)
    {
        var a = new T[n][];
        for (int i = 0; i < n; i++) a[i] = [];
        return a;
    }

    enum Cell : byte { I32, I64, Bool }
    readonly record struct OptionalColumn(EventFields Flag, Cell Cell, int Slot);

    const int PidSlot = 0, OrderSlot = 1, MtSlot = 2, FbOrderSlot = 3, AllocMtSlot = 4, FbMtSlot = 5, TlbReasonSlot = 6,
        PrevPidSlot = 7, NextPidSlot = 8, DevSlot = 9, MigrateReasonSlot = 10;
    const int PfnSlot = 0, GfpSlot = 1, TlbPagesSlot = 2, PrevStateSlot = 3, InoSlot = 4, IndexSlot = 5, LostSlot = 6, BytesSlot = 7,
        MigratedSlot = 8;
    const int RefillSlot = 0, ChownSlot = 1;

    static readonly Dictionary<string, OptionalColumn> OptionalColumns = new(StringComparer.Ordinal)
    {
        ["pid"] = new(EventFields.Pid, Cell.I32, PidSlot),
        ["pfn"] = new(EventFields.Pfn, Cell.I64, PfnSlot),
        ["order"] = new(EventFields.Order, Cell.I32, OrderSlot),
        ["gfp"] = new(EventFields.Gfp, Cell.I64, GfpSlot),
        ["migratetype"] = new(EventFields.Migratetype, Cell.I32, MtSlot),
        ["percpu_refill"] = new(EventFields.PercpuRefill, Cell.Bool, RefillSlot),
        ["fallback_order"] = new(EventFields.FallbackOrder, Cell.I32, FbOrderSlot),
        ["alloc_migratetype"] = new(EventFields.AllocMigratetype, Cell.I32, AllocMtSlot),
        ["fallback_migratetype"] = new(EventFields.FallbackMigratetype, Cell.I32, FbMtSlot),
        ["change_ownership"] = new(EventFields.ChangeOwnership, Cell.Bool, ChownSlot),
        ["tlb_reason"] = new(EventFields.TlbReason, Cell.I32, TlbReasonSlot),
        ["tlb_pages"] = new(EventFields.TlbPages, Cell.I64, TlbPagesSlot),
        ["prev_pid"] = new(EventFields.PrevPid, Cell.I32, PrevPidSlot),
        ["next_pid"] = new(EventFields.NextPid, Cell.I32, NextPidSlot),
        ["prev_state"] = new(EventFields.PrevState, Cell.I64, PrevStateSlot),
        ["ino"] = new(EventFields.Ino, Cell.I64, InoSlot),
        ["index"] = new(EventFields.Index, Cell.I64, IndexSlot),
        ["dev"] = new(EventFields.Dev, Cell.I32, DevSlot),
        ["lost"] = new(EventFields.Lost, Cell.I64, LostSlot),
        ["bytes"] = new(EventFields.Bytes, Cell.I64, BytesSlot),
        ["migrated_pages"] = new(EventFields.MigratedPages, Cell.I64, MigratedSlot),
        ["migrate_reason"] = new(EventFields.MigrateReason, Cell.I32, MigrateReasonSlot),
    };

    FastRowGroup? _current, _spare;
    Task<FastRowGroup>? _ahead;
    int _aheadIndex = -1;

    // Row-group buffers (~35 MB each for the default 262,144 rows) outlive their reader: a replay opens its input twice
    // in a row, and each reader allocating its own two doubled the peak RSS of `replay` (117 → 244 MB on a 10 M-event
    // file) until the GC ran. Held weakly, so a collection may still take them.
    static readonly System.Collections.Concurrent.ConcurrentBag<WeakReference<FastRowGroup>> SpareRowGroups = new();

    static FastRowGroup RentRowGroup()
    {
        while (SpareRowGroups.TryTake(out var w))
            if (w.TryGetTarget(out var g)) return g;
        return new FastRowGroup();
    }

    /// <summary>Gives this reader's row-group buffers to the next reader (on <see cref="Dispose"/>).</summary>
    void ReturnRowGroups()
    {
        WaitForAhead();
        foreach (var g in (ReadOnlySpan<FastRowGroup?>)[_current, _spare])
            if (g is not null) SpareRowGroups.Add(new WeakReference<FastRowGroup>(g));
        _current = _spare = null;
    }

    /// <summary>Makes row group <paramref name="index"/> current: the one decoded ahead if it is that one (its decoding
    /// error, if any, surfaces here, when the rows are reached), else decoded now; then starts decoding the next.</summary>
    void LoadRowGroupFast(int index)
    {
        FastRowGroup g;
        if (_ahead is { } ahead && _aheadIndex == index)
        {
            _ahead = null;
            g = ahead.GetAwaiter().GetResult();
        }
        else
        {
            WaitForAhead();
            g = _spare ?? RentRowGroup();
            _spare = null;
            g.Load(this, index);
        }
        _spare = _current;
        _current = g;
        _rows = g.Rows; _pos = 0;
        BytesConsumed = g.BytesConsumed;
        if (index + 1 < _reader.RowGroupCount)
        {
            var next = _spare ?? RentRowGroup();
            _spare = null;
            _aheadIndex = index + 1;
            _ahead = Task.Run(() => { next.Load(this, index + 1); return next; });
        }
    }

    /// <summary>Lets a decoding in flight finish (it reads the stream), whatever its outcome; its buffers become the
    /// spare ones.</summary>
    void WaitForAhead()
    {
        if (_ahead is not { } ahead) return;
        _ahead = null;
        try { _spare ??= ahead.GetAwaiter().GetResult(); } catch (Exception e) when (e is not OutOfMemoryException) { }
    }

    int ReadFast(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length && RowsLeft())
        {
            int take = Math.Min(dest.Length - n, _rows - _pos);
            var g = _current!;
            for (int k = 0; k < take; k++)
            {
                int i = _pos + k;
                ref var e = ref dest[n + k];
                e = default;
                e.TsNs = g.Ts[i];
                e.Cpu = g.Cpu[i];
                e.Kind = (EventKind)g.KindId[i];
                e.Fields = g.FieldsRow[i];
                e.CommId = g.CommIdRow[i];
                e.CallSiteId = g.CallSiteIdRow[i];
                e.Pid = g.I32[PidSlot][i];
                e.Pfn = (ulong)g.I64[PfnSlot][i];
                e.Order = (byte)g.I32[OrderSlot][i];
                e.Migratetype = (sbyte)g.I32[MtSlot][i];
                e.PercpuRefill = g.Bool[RefillSlot][i];
                e.TlbReason = (byte)(g.I32[TlbReasonSlot][i] | g.I32[MigrateReasonSlot][i]);
                e.Index = (ulong)g.I64[IndexSlot][i];
                // Columns sharing storage (TraceEvent): a row sets at most one of each group (checked when its row group
                // was loaded) and absent cells read 0, so OR-ing a group's columns gives the one set, without branches.
                e.Gfp = (ulong)(g.I64[GfpSlot][i] | g.I64[TlbPagesSlot][i] | g.I64[BytesSlot][i] | g.I64[LostSlot][i]
                    | g.I64[InoSlot][i] | g.I64[PrevStateSlot][i] | g.I64[MigratedSlot][i]);
                e.PrevPid = g.I32[PrevPidSlot][i] | g.I32[DevSlot][i];
                if ((e.Fields & EventFields.NextPid) != 0) e.NextPid = g.I32[NextPidSlot][i];
                else
                {
                    e.FallbackOrder = (sbyte)g.I32[FbOrderSlot][i];
                    e.AllocMigratetype = (sbyte)g.I32[AllocMtSlot][i];
                    e.FallbackMigratetype = (sbyte)g.I32[FbMtSlot][i];
                    e.ChangeOwnership = g.Bool[ChownSlot][i];
                }
            }
            _pos += take;
            n += take;
        }
        return n;
    }

    /// <summary>
    /// One row group of a file this tool wrote, decoded into plain arrays. Two of them take turns: while
    /// <see cref="ReadFast"/> hands out the rows of one, the next row group is decoded into the other on a pool thread
    /// (decompressing and decoding the columns is most of the reading, and the other core is mostly idle in a pre-scan
    /// and in a one-policy replay).
    /// </summary>
    sealed class FastRowGroup
    {
        /// <summary>The reader whose file is being decoded (set by <see cref="Load"/>).</summary>
        EventsParquetReader owner = null!;
        public int Rows;
        /// <summary>The stream position after this row group: how far the input has been read when its rows are.</summary>
        public long BytesConsumed;
        public long[] Ts = [];
        public ushort[] Cpu = [];
        public int[] KindId = [], CommIdRow = [], CallSiteIdRow = [];
        public EventFields[] FieldsRow = [];
        // Values of the optional columns by cell type and slot (OptionalColumns), 0 where the cell is null (the row's mask
        // tells which are present).
        public readonly int[][] I32 = Empty<int>(11);
        public readonly long[][] I64 = Empty<long>(9);
        public readonly byte[][] Bool = Empty<byte>(2);

        byte[] _chunk = [], _pageBuf = [];
        bool[] _present = [];
        int _presentCount; // non-null cells of the column being decoded
        readonly ZstdSharp.Decompressor _zstd = new();

        /// <summary>Reads every column chunk of row group <paramref name="index"/> of <paramref name="reader"/>'s file
        /// (which this tool wrote) with <see cref="OwnPageDecoder"/>.</summary>
        public void Load(EventsParquetReader reader, int index)
        {
            owner = reader;
            var meta = owner._reader.Metadata!.RowGroups[index];
            long rows = meta.NumRows;
            if (rows < 0 || rows > 64 << 20) throw new InvalidTraceException(owner._name, $"row group {index}", $"implausible row count {rows}");
            int n = (int)rows;
            Ensure(ref Ts, n); Ensure(ref Cpu, n); Ensure(ref KindId, n); Ensure(ref CommIdRow, n); Ensure(ref CallSiteIdRow, n);
            Ensure(ref FieldsRow, n); Ensure(ref _present, n);
            Array.Clear(FieldsRow, 0, n); Array.Clear(CommIdRow, 0, n); Array.Clear(CallSiteIdRow, 0, n);
            // A column missing from the file (an older asitrace) reads as null: its values must be 0 too.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var col in meta.Columns)
                {
                    var cm = col.MetaData ?? throw new InvalidDataException("column chunk without metadata");
                    string name = cm.PathInSchema[0];
                    if (!Wanted(name)) continue; // cleared below as if absent
                    seen.Add(name);
                    var page = ReadPage(cm.DataPageOffset, cm.TotalCompressedSize, n, out int encoding);
                    bool optional = name is not ("ts_ns" or "cpu" or "kind");
                    int pos = 0;
                    _presentCount = n;
                    if (optional) pos = OwnPageDecoder.DecodeDefinitionLevels(page, n, _present, out _presentCount);
                    var v = page[pos..];
                    switch (name)
                    {
                        case "ts_ns":
                            if (encoding == 5) OwnPageDecoder.DecodeDeltaInt64(v, Ts.AsSpan(0, n));
                            else for (int i = 0; i < n; i++) Ts[i] = BinaryPrimitives.ReadInt64LittleEndian(v[(i * 8)..]);
                            break;
                        case "cpu": for (int i = 0; i < n; i++) Cpu[i] = (ushort)BinaryPrimitives.ReadInt32LittleEndian(v[(i * 4)..]); break;
                        case "kind": Strings(v, n, true, KindId, kind: true); break;
                        case "comm": Strings(v, n, false, CommIdRow, kind: false, flag: EventFields.Comm); break;
                        case "call_site": Strings(v, n, false, CallSiteIdRow, kind: false, callSite: true, flag: EventFields.CallSite); break;
                        default:
                            // A column this version does not know is skipped.
                            if (OptionalColumns.TryGetValue(name, out var column)) DecodeOptional(column, v, n);
                            break;
                    }
                }
            }
            catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException or ArgumentOutOfRangeException or ZstdSharp.ZstdException)
            {
                throw new InvalidTraceException(owner._name, $"row group {index}", $"cannot read columns: {e.Message}");
            }
            foreach (var (name, column) in OptionalColumns)
                if (!seen.Contains(name)) ClearOptional(column, n);
            for (int i = 0; i < n; i++)
                if (TraceEvent.ColumnsClash(FieldsRow[i]))
                    throw new InvalidTraceException(owner._name, $"row group {index} row {i}", $"{TraceEvent.SharedColumnsClash(FieldsRow[i])} are both set; an event carries the columns of its kind only");
            Rows = n;
            BytesConsumed = owner._stream.Position;
        }

        // The decoded-name columns restate gfp and migratetype for SQL users: never read back.
        bool Wanted(string column) =>
            column is "comm" or "call_site" ? owner._wantComms
            : column is "gfp_names" or "migratetype_name" ? false
            : !OptionalColumns.TryGetValue(column, out var c) || (owner._wanted & c.Flag) != 0;

        void DecodeOptional(OptionalColumn c, ReadOnlySpan<byte> v, int n)
        {
            switch (c.Cell)
            {
                case Cell.I32: Plain(v, n, ref I32[c.Slot], c.Flag); break;
                case Cell.I64: Plain(v, n, ref I64[c.Slot], c.Flag); break;
                default: Bools(v, n, ref Bool[c.Slot], c.Flag); break;
            }
        }

        void ClearOptional(OptionalColumn c, int n)
        {
            switch (c.Cell)
            {
                case Cell.I32: Zero(ref I32[c.Slot], n); break;
                case Cell.I64: Zero(ref I64[c.Slot], n); break;
                default: Zero(ref Bool[c.Slot], n); break;
            }
        }

        static void Zero<T>(ref T[] a, int n)
        {
            Ensure(ref a, n);
            Array.Clear(a, 0, n);
        }

        ReadOnlySpan<byte> ReadPage(long offset, long size, int rows, out int encoding)
        {
            if (offset < 4 || size <= 0 || size > int.MaxValue / 2 || offset + size > owner._stream.Length) throw new InvalidDataException($"column chunk at {offset} (+{size}) outside the file");
            if (_chunk.Length < size) _chunk = new byte[size];
            owner._stream.Position = offset;
            owner._stream.ReadExactly(_chunk, 0, (int)size);
            if (!OwnPageDecoder.TryReadHeader(_chunk.AsSpan(0, (int)size), out var h) || h.Type != 0)
                throw new InvalidDataException("page header is not a data page");
            if (h.NumValues != rows) throw new InvalidDataException($"page has {h.NumValues} values for {rows} rows");
            // A cell is at most a call-site string; a page never needs more than a KiB per row (and at most 1 GiB).
            if (h.Uncompressed < 0 || h.Compressed < 0 || h.Uncompressed > Math.Min((long)rows * 1024 + (1 << 20), 1L << 30)
                || h.HeaderLength + h.Compressed > size) throw new InvalidDataException("page sizes implausible");
            if (_pageBuf.Length < h.Uncompressed) _pageBuf = new byte[h.Uncompressed];
            int got = _zstd.Unwrap(_chunk.AsSpan(h.HeaderLength, h.Compressed), _pageBuf.AsSpan(0, h.Uncompressed));
            if (got != h.Uncompressed) throw new InvalidDataException("page decompressed to the wrong size");
            encoding = h.Encoding;
            return _pageBuf.AsSpan(0, h.Uncompressed);
        }

        // PLAIN values of the present cells, in order, little-endian (this path is only taken on little-endian machines);
        // absent cells read 0. Bounds: the page must hold every present value.
        void Plain<T>(ReadOnlySpan<byte> v, int n, ref T[] dst, EventFields flag) where T : unmanaged
        {
            Ensure(ref dst, n);
            var d = dst;
            if (_presentCount == n)
            {
                // Every cell present (the common case for a kind-specific column in a one-kind row group, and for pid).
                MemoryMarshal.Cast<byte, T>(v[..checked(n * Unsafe.SizeOf<T>())]).CopyTo(d);
                Flag(n, flag);
                return;
            }
            if (_presentCount == 0) { Array.Clear(d, 0, n); return; }
            var values = MemoryMarshal.Cast<byte, T>(v[..(v.Length / Unsafe.SizeOf<T>() * Unsafe.SizeOf<T>())]);
            int k = 0;
            for (int i = 0; i < n; i++)
            {
                if (_present[i]) { d[i] = values[k++]; FieldsRow[i] |= flag; }
                else d[i] = default;
            }
        }

        void Flag(int n, EventFields flag)
        {
            var f = FieldsRow;
            for (int i = 0; i < n; i++) f[i] |= flag;
        }

        void Bools(ReadOnlySpan<byte> v, int n, ref byte[] dst, EventFields flag)
        {
            Ensure(ref dst, n);
            var d = dst;
            int k = 0;
            for (int i = 0; i < n; i++)
            {
                if (_present[i]) { d[i] = (byte)((v[k >> 3] >> (k & 7)) & 1); k++; FieldsRow[i] |= flag; }
                else d[i] = 0;
            }
        }

        /// <summary>PLAIN byte arrays (4-byte length + bytes) to ids: kinds by name, comms and call sites interned.</summary>
        void Strings(ReadOnlySpan<byte> v, int n, bool required, int[] ids, bool kind, bool callSite = false, EventFields flag = EventFields.None)
        {
            int pos = 0;
            ReadOnlySpan<byte> last = default;
            int lastId = -1;
            for (int i = 0; i < n; i++)
            {
                if (!required && !_present[i]) { ids[i] = 0; continue; }
                FieldsRow[i] |= flag;
                int len = BinaryPrimitives.ReadInt32LittleEndian(v[pos..]);
                if (len < 0 || pos + 4 + len > v.Length) throw new InvalidDataException("string cell outside the page");
                var s = v.Slice(pos + 4, len);
                pos += 4 + len;
                if (lastId >= 0 && s.SequenceEqual(last)) { ids[i] = lastId; continue; }
                int id;
                if (kind)
                {
                    var k = EventKinds.FromTracepoint(s);
                    if (k == EventKind.None && s.SequenceEqual("lost_events"u8)) k = EventKind.LostEvents;
                    if (k == EventKind.None) throw new InvalidDataException($"unknown kind '{System.Text.Encoding.UTF8.GetString(s)}'");
                    id = (int)k;
                }
                else if (callSite) id = owner.CallSites.Intern(s);
                else id = owner.Comms.Intern(s);
                ids[i] = id; last = s; lastId = id;
            }
        }
    }
}
