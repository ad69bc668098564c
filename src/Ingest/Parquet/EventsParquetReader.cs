using System.Buffers.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using global::Parquet;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Reads an events Parquet file back into canonical events, one row group at a time (memory bounded by the largest
/// row group). Columns absent from the file (written by an older asitrace) read as null.
/// </summary>
public sealed class EventsParquetReader : IOrderedEventReader
{
    readonly Stream _stream;
    readonly ParquetReader _reader;
    readonly string _name;
    int _rowGroup = -1, _rows, _pos;
    public TraceMetadata Metadata { get; } = new();
    public TraceStats Stats { get; } = new();
    public CommTable Comms { get; } = new();
    /// <summary>Call sites of a file made with <c>ingest --stacks</c> (empty otherwise).</summary>
    public CommTable CallSites { get; } = new();
    string?[] _callSite = [];
    readonly Dictionary<string, int> _callSiteIds = new(StringComparer.Ordinal);
    public long BytesConsumed { get; private set; }
    public long TotalRows { get; }

    long[] _ts = []; ushort[] _cpu = []; int?[] _pid = []; string?[] _comm = []; string?[] _kind = [];
    ulong?[] _pfn = []; byte?[] _order = []; ulong?[] _gfp = []; sbyte?[] _mt = []; bool?[] _refill = [];
    sbyte?[] _fbOrder = []; sbyte?[] _allocMt = []; sbyte?[] _fbMt = []; bool?[] _chown = [];
    byte?[] _tlbReason = []; long?[] _tlbPages = []; int?[] _prevPid = []; int?[] _nextPid = []; long?[] _prevState = [];
    ulong?[] _ino = []; ulong?[] _index = []; uint?[] _dev = []; long?[] _lost = []; long?[] _bytes = [];
    readonly Dictionary<string, int> _commIds = new(StringComparer.Ordinal);
    // Files this tool wrote are decoded by OwnPageDecoder: kind, comm and call site as ids, never as strings.
    readonly bool _fast;
    int[] _kindId = [], _commIdRow = [], _callSiteIdRow = [];
    byte[] _chunk = [], _pageBuf = [];
    bool[] _present = [];
    readonly ZstdSharp.Decompressor _zstd = new();

    public EventsParquetReader(Stream stream, string name) : this(stream, name, allowOwnDecoder: true) { }

    /// <param name="allowOwnDecoder">false: always decode with Parquet.Net (tests compare the two).</param>
    internal EventsParquetReader(Stream stream, string name, bool allowOwnDecoder)
    {
        _stream = stream;
        _name = name;
        try
        {
            _reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stream.Dispose();
            throw new InvalidTraceException(name, "footer", $"not a readable Parquet file: {e.Message}");
        }
        var fields = _reader.Schema.GetDataFields();
        if (!fields.Any(f => f.Name == "ts_ns") || !fields.Any(f => f.Name == "kind"))
        {
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            stream.Dispose();
            throw new InvalidTraceException(name, "schema", "Parquet file is not an asitrace events file (no ts_ns/kind columns)");
        }
        MetadataCodec.Decode(_reader.CustomMetadata, Metadata, Stats);
        _fast = allowOwnDecoder && _reader.Metadata?.CreatedBy == "asitrace" && stream.CanSeek
            && Environment.GetEnvironmentVariable("ASITRACE_PARQUET_NET") is null;
        Metadata.Inputs.Clear();
        Metadata.Inputs.Add(name);
        foreach (var rg in _reader.RowGroups) TotalRows += rg.RowCount;
    }

    public static EventsParquetReader Open(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return new EventsParquetReader(fs, path);
    }

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            if (_pos == _rows)
            {
                if (_rowGroup + 1 >= _reader.RowGroupCount) break;
                LoadRowGroup(++_rowGroup);
                continue;
            }
            ref var e = ref dest[n++];
            e = default;
            int i = _pos++;
            e.TsNs = _ts[i];
            e.Cpu = _cpu[i];
            EventFields f = 0;
            if (_fast)
            {
                e.Kind = (EventKind)_kindId[i];
                if (_commIdRow[i] >= 0) { e.CommId = _commIdRow[i]; f |= EventFields.Comm; }
                if (_callSiteIdRow[i] >= 0) { e.CallSiteId = _callSiteIdRow[i]; f |= EventFields.CallSite; }
            }
            else
            {
                if (!EventKinds.TryParse(_kind[i], out e.Kind))
                    throw new InvalidTraceException(_name, $"row group {_rowGroup} row {i}", $"unknown kind '{_kind[i]}'");
                if (_comm[i] is string comm)
                {
                    if (!_commIds.TryGetValue(comm, out int id)) _commIds[comm] = id = Comms.Intern(comm);
                    e.CommId = id; f |= EventFields.Comm;
                }
                if (_callSite[i] is string site)
                {
                    if (!_callSiteIds.TryGetValue(site, out int sid)) _callSiteIds[site] = sid = CallSites.Intern(site);
                    e.CallSiteId = sid; f |= EventFields.CallSite;
                }
            }
            if (_pid[i] is int pid) { e.Pid = pid; f |= EventFields.Pid; }
            if (_pfn[i] is ulong pfn) { e.Pfn = pfn; f |= EventFields.Pfn; }
            if (_order[i] is byte o) { e.Order = o; f |= EventFields.Order; }
            if (_gfp[i] is ulong g) { e.Gfp = g; f |= EventFields.Gfp; }
            if (_mt[i] is sbyte mt) { e.Migratetype = mt; f |= EventFields.Migratetype; }
            if (_refill[i] is bool r) { e.PercpuRefill = r ? (byte)1 : (byte)0; f |= EventFields.PercpuRefill; }
            if (_fbOrder[i] is sbyte fo) { e.FallbackOrder = fo; f |= EventFields.FallbackOrder; }
            if (_allocMt[i] is sbyte am) { e.AllocMigratetype = am; f |= EventFields.AllocMigratetype; }
            if (_fbMt[i] is sbyte fm) { e.FallbackMigratetype = fm; f |= EventFields.FallbackMigratetype; }
            if (_chown[i] is bool co) { e.ChangeOwnership = co ? (byte)1 : (byte)0; f |= EventFields.ChangeOwnership; }
            if (_tlbReason[i] is byte tr) { e.TlbReason = tr; f |= EventFields.TlbReason; }
            if (_tlbPages[i] is long tp) { e.TlbPages = tp; f |= EventFields.TlbPages; }
            if (_prevPid[i] is int pp) { e.PrevPid = pp; f |= EventFields.PrevPid; }
            if (_nextPid[i] is int np) { e.NextPid = np; f |= EventFields.NextPid; }
            if (_prevState[i] is long ps) { e.PrevState = ps; f |= EventFields.PrevState; }
            if (_ino[i] is ulong ino) { e.Ino = ino; f |= EventFields.Ino; }
            if (_index[i] is ulong idx) { e.Index = idx; f |= EventFields.Index; }
            if (_dev[i] is uint dev) { e.Dev = dev; f |= EventFields.Dev; }
            if (_lost[i] is long lost) { e.Lost = lost; f |= EventFields.Lost; }
            if (_bytes[i] is long bytes) { e.Bytes = bytes; f |= EventFields.Bytes; }
            e.Fields = f;
        }
        return n;
    }

    void LoadRowGroup(int index)
    {
        if (_fast) { LoadRowGroupFast(index); return; }
        using var rg = _reader.OpenRowGroupReader(index);
        long rows = rg.RowCount;
        if (rows < 0 || rows > 64 << 20) throw new InvalidTraceException(_name, $"row group {index}", $"implausible row count {rows}");
        int n = (int)rows;
        Ensure(ref _ts, n); Ensure(ref _cpu, n); Ensure(ref _pid, n); Ensure(ref _comm, n); Ensure(ref _kind, n);
        Ensure(ref _pfn, n); Ensure(ref _order, n); Ensure(ref _gfp, n); Ensure(ref _mt, n); Ensure(ref _refill, n);
        Ensure(ref _fbOrder, n); Ensure(ref _allocMt, n); Ensure(ref _fbMt, n); Ensure(ref _chown, n);
        Ensure(ref _tlbReason, n); Ensure(ref _tlbPages, n); Ensure(ref _prevPid, n); Ensure(ref _nextPid, n); Ensure(ref _prevState, n);
        Ensure(ref _ino, n); Ensure(ref _index, n); Ensure(ref _dev, n); Ensure(ref _lost, n); Ensure(ref _bytes, n); Ensure(ref _callSite, n);
        try
        {
            rg.ReadAsync(EventsSchema.TsNs, _ts.AsMemory(0, n), null, default).AsTask().GetAwaiter().GetResult();
            rg.ReadAsync(EventsSchema.Cpu, _cpu.AsMemory(0, n), null, default).AsTask().GetAwaiter().GetResult();
            rg.ReadAsync(EventsSchema.Kind, _kind.AsMemory(0, n)!, null, default).AsTask().GetAwaiter().GetResult();
            Col(rg, EventsSchema.Pid, _pid, n);
            if (rg.ColumnExists(EventsSchema.Comm)) rg.ReadAsync(EventsSchema.Comm, _comm.AsMemory(0, n)!, null, default).AsTask().GetAwaiter().GetResult();
            else Array.Clear(_comm, 0, n);
            if (rg.ColumnExists(EventsSchema.CallSite)) rg.ReadAsync(EventsSchema.CallSite, _callSite.AsMemory(0, n)!, null, default).AsTask().GetAwaiter().GetResult();
            else Array.Clear(_callSite, 0, n);
            Col(rg, EventsSchema.Pfn, _pfn, n); Col(rg, EventsSchema.Order, _order, n); Col(rg, EventsSchema.Gfp, _gfp, n);
            Col(rg, EventsSchema.Migratetype, _mt, n); Col(rg, EventsSchema.PercpuRefill, _refill, n);
            Col(rg, EventsSchema.FallbackOrder, _fbOrder, n); Col(rg, EventsSchema.AllocMigratetype, _allocMt, n);
            Col(rg, EventsSchema.FallbackMigratetype, _fbMt, n); Col(rg, EventsSchema.ChangeOwnership, _chown, n);
            Col(rg, EventsSchema.TlbReason, _tlbReason, n); Col(rg, EventsSchema.TlbPages, _tlbPages, n);
            Col(rg, EventsSchema.PrevPid, _prevPid, n); Col(rg, EventsSchema.NextPid, _nextPid, n); Col(rg, EventsSchema.PrevState, _prevState, n);
            Col(rg, EventsSchema.Ino, _ino, n); Col(rg, EventsSchema.Index, _index, n); Col(rg, EventsSchema.Dev, _dev, n);
            Col(rg, EventsSchema.Lost, _lost, n); Col(rg, EventsSchema.Bytes, _bytes, n);
        }
        catch (Exception e) when (e is not InvalidTraceException and not OutOfMemoryException)
        {
            throw new InvalidTraceException(_name, $"row group {index}", $"cannot read columns: {e.Message}");
        }
        _rows = n; _pos = 0;
        BytesConsumed = _stream.CanSeek ? _stream.Position : BytesConsumed;
    }

    /// <summary>Reads every column chunk of a row group this tool wrote with <see cref="OwnPageDecoder"/>.</summary>
    void LoadRowGroupFast(int index)
    {
        var meta = _reader.Metadata!.RowGroups[index];
        long rows = meta.NumRows;
        if (rows < 0 || rows > 64 << 20) throw new InvalidTraceException(_name, $"row group {index}", $"implausible row count {rows}");
        int n = (int)rows;
        Ensure(ref _ts, n); Ensure(ref _cpu, n); Ensure(ref _pid, n); Ensure(ref _kindId, n); Ensure(ref _commIdRow, n); Ensure(ref _callSiteIdRow, n);
        Ensure(ref _pfn, n); Ensure(ref _order, n); Ensure(ref _gfp, n); Ensure(ref _mt, n); Ensure(ref _refill, n);
        Ensure(ref _fbOrder, n); Ensure(ref _allocMt, n); Ensure(ref _fbMt, n); Ensure(ref _chown, n);
        Ensure(ref _tlbReason, n); Ensure(ref _tlbPages, n); Ensure(ref _prevPid, n); Ensure(ref _nextPid, n); Ensure(ref _prevState, n);
        Ensure(ref _ino, n); Ensure(ref _index, n); Ensure(ref _dev, n); Ensure(ref _lost, n); Ensure(ref _bytes, n); Ensure(ref _present, n);
        Array.Fill(_commIdRow, -1, 0, n); Array.Fill(_callSiteIdRow, -1, 0, n);
        Array.Clear(_pid, 0, n); Array.Clear(_pfn, 0, n); Array.Clear(_order, 0, n); Array.Clear(_gfp, 0, n); Array.Clear(_mt, 0, n);
        Array.Clear(_refill, 0, n); Array.Clear(_fbOrder, 0, n); Array.Clear(_allocMt, 0, n); Array.Clear(_fbMt, 0, n); Array.Clear(_chown, 0, n);
        Array.Clear(_tlbReason, 0, n); Array.Clear(_tlbPages, 0, n); Array.Clear(_prevPid, 0, n); Array.Clear(_nextPid, 0, n); Array.Clear(_prevState, 0, n);
        Array.Clear(_ino, 0, n); Array.Clear(_index, 0, n); Array.Clear(_dev, 0, n); Array.Clear(_lost, 0, n); Array.Clear(_bytes, 0, n);
        try
        {
            foreach (var col in meta.Columns)
            {
                var cm = col.MetaData ?? throw new InvalidDataException("column chunk without metadata");
                string name = cm.PathInSchema[0];
                var page = ReadPage(cm.DataPageOffset, cm.TotalCompressedSize, n, out int encoding);
                bool optional = name is not ("ts_ns" or "cpu" or "kind");
                int pos = optional ? OwnPageDecoder.DecodeDefinitionLevels(page, n, _present) : 0;
                if (!optional) _present.AsSpan(0, n).Fill(true);
                var v = page[pos..];
                switch (name)
                {
                    case "ts_ns":
                        if (encoding == 5) OwnPageDecoder.DecodeDeltaInt64(v, _ts.AsSpan(0, n));
                        else for (int i = 0; i < n; i++) _ts[i] = BinaryPrimitives.ReadInt64LittleEndian(v[(i * 8)..]);
                        break;
                    case "cpu": for (int i = 0; i < n; i++) _cpu[i] = (ushort)BinaryPrimitives.ReadInt32LittleEndian(v[(i * 4)..]); break;
                    case "kind": Strings(v, n, true, _kindId, kind: true); break;
                    case "comm": Strings(v, n, false, _commIdRow, kind: false); break;
                    case "call_site": Strings(v, n, false, _callSiteIdRow, kind: false, callSite: true); break;
                    case "pid": I32(v, n, null, (i, x) => _pid[i] = x); break;
                    case "pfn": I64(v, n, (i, x) => _pfn[i] = (ulong)x); break;
                    case "order": I32(v, n, null, (i, x) => _order[i] = (byte)x); break;
                    case "gfp": I64(v, n, (i, x) => _gfp[i] = (ulong)x); break;
                    case "migratetype": I32(v, n, null, (i, x) => _mt[i] = (sbyte)x); break;
                    case "percpu_refill": Bools(v, n, (i, x) => _refill[i] = x); break;
                    case "fallback_order": I32(v, n, null, (i, x) => _fbOrder[i] = (sbyte)x); break;
                    case "alloc_migratetype": I32(v, n, null, (i, x) => _allocMt[i] = (sbyte)x); break;
                    case "fallback_migratetype": I32(v, n, null, (i, x) => _fbMt[i] = (sbyte)x); break;
                    case "change_ownership": Bools(v, n, (i, x) => _chown[i] = x); break;
                    case "tlb_reason": I32(v, n, null, (i, x) => _tlbReason[i] = (byte)x); break;
                    case "tlb_pages": I64(v, n, (i, x) => _tlbPages[i] = x); break;
                    case "prev_pid": I32(v, n, null, (i, x) => _prevPid[i] = x); break;
                    case "next_pid": I32(v, n, null, (i, x) => _nextPid[i] = x); break;
                    case "prev_state": I64(v, n, (i, x) => _prevState[i] = x); break;
                    case "ino": I64(v, n, (i, x) => _ino[i] = (ulong)x); break;
                    case "index": I64(v, n, (i, x) => _index[i] = (ulong)x); break;
                    case "dev": I32(v, n, null, (i, x) => _dev[i] = (uint)x); break;
                    case "lost": I64(v, n, (i, x) => _lost[i] = x); break;
                    case "bytes": I64(v, n, (i, x) => _bytes[i] = x); break;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException or ArgumentOutOfRangeException or ZstdSharp.ZstdException)
        {
            throw new InvalidTraceException(_name, $"row group {index}", $"cannot read columns: {e.Message}");
        }
        _rows = n; _pos = 0;
        BytesConsumed = _stream.Position;
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

    delegate void Put<T>(int row, T value);

    void I32(ReadOnlySpan<byte> v, int n, Action<int>? _, Put<int> put)
    {
        int k = 0;
        for (int i = 0; i < n; i++) if (_present[i]) { put(i, BinaryPrimitives.ReadInt32LittleEndian(v[(k * 4)..])); k++; }
    }

    void I64(ReadOnlySpan<byte> v, int n, Put<long> put)
    {
        int k = 0;
        for (int i = 0; i < n; i++) if (_present[i]) { put(i, BinaryPrimitives.ReadInt64LittleEndian(v[(k * 8)..])); k++; }
    }

    void Bools(ReadOnlySpan<byte> v, int n, Put<bool> put)
    {
        int k = 0;
        for (int i = 0; i < n; i++) if (_present[i]) { put(i, ((v[k >> 3] >> (k & 7)) & 1) != 0); k++; }
    }

    /// <summary>PLAIN byte arrays (4-byte length + bytes) to ids: kinds by name, comms and call sites interned.</summary>
    void Strings(ReadOnlySpan<byte> v, int n, bool required, int[] ids, bool kind, bool callSite = false)
    {
        int pos = 0;
        ReadOnlySpan<byte> last = default;
        int lastId = -1;
        for (int i = 0; i < n; i++)
        {
            if (!_present[i]) { if (required) throw new InvalidDataException("null in a required column"); continue; }
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

    static void Col<T>(ParquetRowGroupReader rg, global::Parquet.Schema.DataField<T?> field, T?[] buf, int n) where T : struct
    {
        if (rg.ColumnExists(field)) rg.ReadAsync(field, buf.AsMemory(0, n), null, default).AsTask().GetAwaiter().GetResult();
        else Array.Clear(buf, 0, n);
    }

    static void Ensure<T>(ref T[] a, int n) { if (a.Length < n) a = new T[n]; }

    public void Dispose()
    {
        _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stream.Dispose();
    }
}
