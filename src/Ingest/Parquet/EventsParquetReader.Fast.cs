using System.Buffers.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
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

    int[] _kindId = [], _commIdRow = [], _callSiteIdRow = [];
    EventFields[] _fieldsRow = [];
    // Values of the optional columns, 0 where the cell is null (the row's mask tells which are present).
    int[] _pidV = [], _orderV = [], _mtV = [], _fbOrderV = [], _allocMtV = [], _fbMtV = [], _tlbReasonV = [], _prevPidV = [], _nextPidV = [], _devV = [];
    long[] _pfnV = [], _gfpV = [], _tlbPagesV = [], _prevStateV = [], _inoV = [], _indexV = [], _lostV = [], _bytesV = [];
    byte[] _refillV = [], _chownV = [];
    byte[] _chunk = [], _pageBuf = [];
    bool[] _present = [];
    int _presentCount; // non-null cells of the column being decoded
    readonly ZstdSharp.Decompressor _zstd = new();

    int ReadFast(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            if (_pos == _rows)
            {
                if (_rowGroup + 1 >= _reader.RowGroupCount) break;
                LoadRowGroupFast(++_rowGroup);
                continue;
            }
            int take = Math.Min(dest.Length - n, _rows - _pos);
            for (int k = 0; k < take; k++)
            {
                int i = _pos + k;
                ref var e = ref dest[n + k];
                e = default;
                e.TsNs = _ts[i];
                e.Cpu = _cpu[i];
                e.Kind = (EventKind)_kindId[i];
                e.Fields = _fieldsRow[i];
                e.CommId = _commIdRow[i];
                e.CallSiteId = _callSiteIdRow[i];
                e.Pid = _pidV[i];
                e.Pfn = (ulong)_pfnV[i];
                e.Order = (byte)_orderV[i];
                e.Gfp = (ulong)_gfpV[i];
                e.Migratetype = (sbyte)_mtV[i];
                e.PercpuRefill = _refillV[i];
                e.FallbackOrder = (sbyte)_fbOrderV[i];
                e.AllocMigratetype = (sbyte)_allocMtV[i];
                e.FallbackMigratetype = (sbyte)_fbMtV[i];
                e.ChangeOwnership = _chownV[i];
                e.TlbReason = (byte)_tlbReasonV[i];
                e.TlbPages = _tlbPagesV[i];
                e.PrevPid = _prevPidV[i];
                e.NextPid = _nextPidV[i];
                e.PrevState = _prevStateV[i];
                e.Ino = (ulong)_inoV[i];
                e.Index = (ulong)_indexV[i];
                e.Dev = (uint)_devV[i];
                e.Lost = _lostV[i];
                e.Bytes = _bytesV[i];
            }
            _pos += take;
            n += take;
        }
        return n;
    }

    /// <summary>Reads every column chunk of a row group this tool wrote with <see cref="OwnPageDecoder"/>.</summary>
    void LoadRowGroupFast(int index)
    {
        var meta = _reader.Metadata!.RowGroups[index];
        long rows = meta.NumRows;
        if (rows < 0 || rows > 64 << 20) throw new InvalidTraceException(_name, $"row group {index}", $"implausible row count {rows}");
        int n = (int)rows;
        Ensure(ref _ts, n); Ensure(ref _cpu, n); Ensure(ref _kindId, n); Ensure(ref _commIdRow, n); Ensure(ref _callSiteIdRow, n);
        Ensure(ref _fieldsRow, n); Ensure(ref _present, n);
        Array.Clear(_fieldsRow, 0, n); Array.Clear(_commIdRow, 0, n); Array.Clear(_callSiteIdRow, 0, n);
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
                        if (encoding == 5) OwnPageDecoder.DecodeDeltaInt64(v, _ts.AsSpan(0, n));
                        else for (int i = 0; i < n; i++) _ts[i] = BinaryPrimitives.ReadInt64LittleEndian(v[(i * 8)..]);
                        break;
                    case "cpu": for (int i = 0; i < n; i++) _cpu[i] = (ushort)BinaryPrimitives.ReadInt32LittleEndian(v[(i * 4)..]); break;
                    case "kind": Strings(v, n, true, _kindId, kind: true); break;
                    case "comm": Strings(v, n, false, _commIdRow, kind: false, flag: EventFields.Comm); break;
                    case "call_site": Strings(v, n, false, _callSiteIdRow, kind: false, callSite: true, flag: EventFields.CallSite); break;
                    default:
                        if (!DecodeOptional(name, v, n)) { /* a column this version does not know: skipped */ }
                        break;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException or ArgumentOutOfRangeException or ZstdSharp.ZstdException)
        {
            throw new InvalidTraceException(_name, $"row group {index}", $"cannot read columns: {e.Message}");
        }
        foreach (var (name, _) in OptionalColumns)
            if (!seen.Contains(name)) ClearOptional(name, n);
        _rows = n; _pos = 0;
        BytesConsumed = _stream.Position;
    }

    bool Wanted(string column)
    {
        if (column is "comm" or "call_site") return _wantComms;
        foreach (var (name, flag) in OptionalColumns) if (name == column) return (_wanted & flag) != 0;
        return true;
    }

    static readonly (string Name, EventFields Flag)[] OptionalColumns =
    [
        ("pid", EventFields.Pid), ("pfn", EventFields.Pfn), ("order", EventFields.Order), ("gfp", EventFields.Gfp),
        ("migratetype", EventFields.Migratetype), ("percpu_refill", EventFields.PercpuRefill), ("fallback_order", EventFields.FallbackOrder),
        ("alloc_migratetype", EventFields.AllocMigratetype), ("fallback_migratetype", EventFields.FallbackMigratetype),
        ("change_ownership", EventFields.ChangeOwnership), ("tlb_reason", EventFields.TlbReason), ("tlb_pages", EventFields.TlbPages),
        ("prev_pid", EventFields.PrevPid), ("next_pid", EventFields.NextPid), ("prev_state", EventFields.PrevState),
        ("ino", EventFields.Ino), ("index", EventFields.Index), ("dev", EventFields.Dev), ("lost", EventFields.Lost), ("bytes", EventFields.Bytes),
    ];

    bool DecodeOptional(string name, ReadOnlySpan<byte> v, int n)
    {
        switch (name)
        {
            case "pid": I32(v, n, ref _pidV, EventFields.Pid); return true;
            case "pfn": I64(v, n, ref _pfnV, EventFields.Pfn); return true;
            case "order": I32(v, n, ref _orderV, EventFields.Order); return true;
            case "gfp": I64(v, n, ref _gfpV, EventFields.Gfp); return true;
            case "migratetype": I32(v, n, ref _mtV, EventFields.Migratetype); return true;
            case "percpu_refill": Bools(v, n, ref _refillV, EventFields.PercpuRefill); return true;
            case "fallback_order": I32(v, n, ref _fbOrderV, EventFields.FallbackOrder); return true;
            case "alloc_migratetype": I32(v, n, ref _allocMtV, EventFields.AllocMigratetype); return true;
            case "fallback_migratetype": I32(v, n, ref _fbMtV, EventFields.FallbackMigratetype); return true;
            case "change_ownership": Bools(v, n, ref _chownV, EventFields.ChangeOwnership); return true;
            case "tlb_reason": I32(v, n, ref _tlbReasonV, EventFields.TlbReason); return true;
            case "tlb_pages": I64(v, n, ref _tlbPagesV, EventFields.TlbPages); return true;
            case "prev_pid": I32(v, n, ref _prevPidV, EventFields.PrevPid); return true;
            case "next_pid": I32(v, n, ref _nextPidV, EventFields.NextPid); return true;
            case "prev_state": I64(v, n, ref _prevStateV, EventFields.PrevState); return true;
            case "ino": I64(v, n, ref _inoV, EventFields.Ino); return true;
            case "index": I64(v, n, ref _indexV, EventFields.Index); return true;
            case "dev": I32(v, n, ref _devV, EventFields.Dev); return true;
            case "lost": I64(v, n, ref _lostV, EventFields.Lost); return true;
            case "bytes": I64(v, n, ref _bytesV, EventFields.Bytes); return true;
            default: return false;
        }
    }

    void ClearOptional(string name, int n)
    {
        switch (name)
        {
            case "pid": Zero(ref _pidV, n); break;
            case "pfn": Zero(ref _pfnV, n); break;
            case "order": Zero(ref _orderV, n); break;
            case "gfp": Zero(ref _gfpV, n); break;
            case "migratetype": Zero(ref _mtV, n); break;
            case "percpu_refill": Zero(ref _refillV, n); break;
            case "fallback_order": Zero(ref _fbOrderV, n); break;
            case "alloc_migratetype": Zero(ref _allocMtV, n); break;
            case "fallback_migratetype": Zero(ref _fbMtV, n); break;
            case "change_ownership": Zero(ref _chownV, n); break;
            case "tlb_reason": Zero(ref _tlbReasonV, n); break;
            case "tlb_pages": Zero(ref _tlbPagesV, n); break;
            case "prev_pid": Zero(ref _prevPidV, n); break;
            case "next_pid": Zero(ref _nextPidV, n); break;
            case "prev_state": Zero(ref _prevStateV, n); break;
            case "ino": Zero(ref _inoV, n); break;
            case "index": Zero(ref _indexV, n); break;
            case "dev": Zero(ref _devV, n); break;
            case "lost": Zero(ref _lostV, n); break;
            case "bytes": Zero(ref _bytesV, n); break;
        }
    }

    static void Zero<T>(ref T[] a, int n)
    {
        Ensure(ref a, n);
        Array.Clear(a, 0, n);
    }

    ReadOnlySpan<byte> ReadPage(long offset, long size, int rows, out int encoding)
    {
        if (offset < 4 || size <= 0 || size > int.MaxValue / 2 || offset + size > _stream.Length) throw new InvalidDataException($"column chunk at {offset} (+{size}) outside the file");
        if (_chunk.Length < size) _chunk = new byte[size];
        _stream.Position = offset;
        _stream.ReadExactly(_chunk, 0, (int)size);
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

    // PLAIN values of the present cells, in order; absent cells read 0. Bounds: the page must hold every present value.
    void I32(ReadOnlySpan<byte> v, int n, ref int[] dst, EventFields flag)
    {
        Ensure(ref dst, n);
        var d = dst;
        if (_presentCount == n)
        {
            // Every cell present (the common case for a kind-specific column in a one-kind row group, and for pid).
            MemoryMarshal.Cast<byte, int>(v[..checked(n * 4)]).CopyTo(d);
            if (!BitConverter.IsLittleEndian) for (int i = 0; i < n; i++) d[i] = BinaryPrimitives.ReverseEndianness(d[i]);
            Flag(n, flag);
            return;
        }
        if (_presentCount == 0) { Array.Clear(d, 0, n); return; }
        int k = 0;
        for (int i = 0; i < n; i++)
        {
            if (_present[i]) { d[i] = BinaryPrimitives.ReadInt32LittleEndian(v.Slice(k, 4)); k += 4; _fieldsRow[i] |= flag; }
            else d[i] = 0;
        }
    }

    void I64(ReadOnlySpan<byte> v, int n, ref long[] dst, EventFields flag)
    {
        Ensure(ref dst, n);
        var d = dst;
        if (_presentCount == n)
        {
            MemoryMarshal.Cast<byte, long>(v[..checked(n * 8)]).CopyTo(d);
            if (!BitConverter.IsLittleEndian) for (int i = 0; i < n; i++) d[i] = BinaryPrimitives.ReverseEndianness(d[i]);
            Flag(n, flag);
            return;
        }
        if (_presentCount == 0) { Array.Clear(d, 0, n); return; }
        int k = 0;
        for (int i = 0; i < n; i++)
        {
            if (_present[i]) { d[i] = BinaryPrimitives.ReadInt64LittleEndian(v.Slice(k, 8)); k += 8; _fieldsRow[i] |= flag; }
            else d[i] = 0;
        }
    }

    void Flag(int n, EventFields flag)
    {
        var f = _fieldsRow;
        for (int i = 0; i < n; i++) f[i] |= flag;
    }

    void Bools(ReadOnlySpan<byte> v, int n, ref byte[] dst, EventFields flag)
    {
        Ensure(ref dst, n);
        var d = dst;
        int k = 0;
        for (int i = 0; i < n; i++)
        {
            if (_present[i]) { d[i] = (byte)((v[k >> 3] >> (k & 7)) & 1); k++; _fieldsRow[i] |= flag; }
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
            _fieldsRow[i] |= flag;
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
            else if (callSite) id = CallSites.Intern(s);
            else id = Comms.Intern(s);
            ids[i] = id; last = s; lastId = id;
        }
    }
}
