using System.Buffers.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using global::Parquet;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Reads an events Parquet file back into canonical events, one row group at a time (memory bounded by the largest
/// row group). Columns absent from the file (written by an older asitrace) read as null.
/// </summary>
public sealed partial class EventsParquetReader : IOrderedEventReader
{
    readonly Stream _stream;
    // What else the stream came with (an opened input's mapping of the same file): closed with it, else the file stays
    // open after Dispose.
    readonly IDisposable? _owner;
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
    long?[] _migrated = []; byte?[] _migrateReason = [];
    readonly Dictionary<string, int> _commIds = new(StringComparer.Ordinal);
    readonly Dictionary<string, global::Parquet.Schema.DataField> _fileFields = new(StringComparer.Ordinal);
    // Files this tool wrote are decoded by OwnPageDecoder (EventsParquetReader.Fast.cs).
    readonly bool _fast;

    public EventsParquetReader(Stream stream, string name) : this(stream, name, allowOwnDecoder: true) { }

    /// <summary>Reads an opened input's raw file and owns the input: Dispose closes both.</summary>
    internal EventsParquetReader(Input.TraceInput input) : this(input.RawFile, input.Name, allowOwnDecoder: true, owner: input) { }

    /// <param name="allowOwnDecoder">false: always decode with Parquet.Net (tests compare the two).</param>
    internal EventsParquetReader(Stream stream, string name, bool allowOwnDecoder, IDisposable? owner = null)
    {
        _stream = stream;
        _owner = owner;
        _name = name;
        try
        {
            CheckFooterLength(stream, name);
            _reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        }
        catch (InvalidTraceException) { Close(); throw; }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Close();
            throw new InvalidTraceException(name, "footer", $"not a readable Parquet file: {e.Message}");
        }
        try
        {
            // A schema Parquet.Net cannot build (float16, a map without a value, an unannotated repeated field, an
            // unknown physical type) throws here, not in CreateAsync.
            var fields = _reader.Schema.GetDataFields();
            if (!fields.Any(f => f.Name == "ts_ns") || !fields.Any(f => f.Name == "kind"))
                throw new InvalidTraceException(name, "schema", "Parquet file is not an asitrace events file (no ts_ns/kind columns)");
            CheckColumnTypes(fields, name);
            foreach (var f in fields) _fileFields.TryAdd(f.Name, f);
            MetadataCodec.Decode(_reader.CustomMetadata, Metadata, Stats);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Close();
            if (e is InvalidTraceException) throw;
            throw new InvalidTraceException(name, e is MetadataCodec.InvalidMetadataException ? "key-value metadata" : "schema",
                e is MetadataCodec.InvalidMetadataException ? e.Message : $"a schema this reader cannot use: {e.GetType().Name}: {e.Message}");
        }
        _fast = allowOwnDecoder && _reader.Metadata?.CreatedBy == "asitrace" && stream.CanSeek && BitConverter.IsLittleEndian
            && Environment.GetEnvironmentVariable("ASITRACE_PARQUET_NET") is null;
        Metadata.Inputs.Clear();
        Metadata.Inputs.Add(name);
        foreach (var rg in _reader.RowGroups) TotalRows += rg.RowCount;
    }

    /// <summary>Every events column the file has must have the type this reader reads it as (docs/formats.md §13);
    /// optional or required either way.</summary>
    static void CheckColumnTypes(global::Parquet.Schema.DataField[] fields, string name)
    {
        foreach (var ours in EventsSchema.SchemaWithCallSite.GetDataFields())
        {
            var theirs = fields.FirstOrDefault(f => f.Path.Equals(ours.Path));
            if (theirs is null) continue;
            if (theirs.ClrType != ours.ClrType || theirs.IsArray)
                throw new InvalidTraceException(name, $"column '{ours.Name}'",
                    $"is {Describe(theirs)}; an events file has {Describe(ours)} (write it with `asitrace ingest`, or cast the column to that type)");
        }
        static string Describe(global::Parquet.Schema.DataField f) =>
            (f.IsArray ? "a list of " : "") + (f.IsNullable ? "optional " : "required ") + f.ClrType.Name;
    }

    /// <summary>The footer's length (the 4 bytes before the closing "PAR1") must fit in the file: Parquet.Net allocates
    /// it before reading, so a hostile length would exhaust memory. The footer itself must be well-formed Thrift
    /// (<see cref="ThriftCompactCheck"/>) before Parquet.Net decodes it.</summary>
    static void CheckFooterLength(Stream stream, string name)
    {
        if (!stream.CanSeek) return;
        long length = stream.Length;
        if (length < 12) throw new InvalidTraceException(name, "byte 0", $"{length} bytes is too short for a Parquet file");
        Span<byte> tail = stackalloc byte[8];
        stream.Seek(length - 8, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        stream.Seek(0, SeekOrigin.Begin);
        uint footer = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        if (!tail[4..].SequenceEqual("PAR1"u8)) throw new InvalidTraceException(name, $"byte {length - 4}", "no closing PAR1 magic: not a Parquet file, or truncated");
        if (footer > length - 12) throw new InvalidTraceException(name, $"byte {length - 8}", $"footer length {footer} exceeds the file ({length} bytes)");
        if (footer > MaxFooterBytes) throw new InvalidTraceException(name, $"byte {length - 8}", $"footer length {footer} is over this reader's limit of {MaxFooterBytes >> 20} MiB");
        long start = length - 8 - footer;
        var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent((int)footer);
        try
        {
            stream.Seek(start, SeekOrigin.Begin);
            stream.ReadExactly(bytes, 0, (int)footer);
            stream.Seek(0, SeekOrigin.Begin);
            if (ThriftCompactCheck.Check(bytes.AsSpan(0, (int)footer)) is { } bad)
                throw new InvalidTraceException(name, $"byte {start + bad.Offset}", $"malformed Parquet footer (Thrift): {bad.Problem}");
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(bytes); }
    }

    /// <summary>A footer takes a few hundred bytes per column chunk: 256 MiB is about a million row groups of this
    /// schema, far past any file the ingest writes (1 M-row groups).</summary>
    const uint MaxFooterBytes = 256u << 20;

    public static EventsParquetReader Open(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return new EventsParquetReader(fs, path);
    }

    public int Read(Span<TraceEvent> dest)
    {
        if (_fast) return ReadFast(dest);
        int n = 0;
        while (n < dest.Length && RowsLeft())
        {
            ref var e = ref dest[n++];
            e = default;
            int i = _pos++;
            e.TsNs = _ts[i];
            e.Cpu = _cpu[i];
            EventFields f = 0;
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
            if (_migrated[i] is long migrated) { e.MigratedPages = migrated; f |= EventFields.MigratedPages; }
            if (_migrateReason[i] is byte mr) { e.MigrateReason = mr; f |= EventFields.MigrateReason; }
            if (TraceEvent.ColumnsClash(f))
                throw new InvalidTraceException(_name, $"row group {_rowGroup} row {i}", $"{TraceEvent.SharedColumnsClash(f)} are both set; an event carries the columns of its kind only");
            e.Fields = f;
        }
        return n;
    }

    /// <summary>Are rows left in the current row group, after loading the next one if it is used up?</summary>
    bool RowsLeft()
    {
        while (_pos == _rows)
        {
            if (_rowGroup + 1 >= _reader.RowGroupCount) return false;
            try { LoadRowGroup(++_rowGroup); }
            catch (Exception e) when (e is not InvalidTraceException and not OutOfMemoryException)
            {
                throw new InvalidTraceException(_name, $"row group {_rowGroup}", $"cannot read columns: {e.GetType().Name}: {e.Message}");
            }
        }
        return true;
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
        Ensure(ref _migrated, n); Ensure(ref _migrateReason, n);
        try
        {
            Required(rg, EventsSchema.TsNs, _ts, n, index);
            Required(rg, EventsSchema.Cpu, _cpu, n, index);
            Strings(rg, EventsSchema.Kind, _kind, n);
            Col(rg, EventsSchema.Pid, _pid, n);
            Strings(rg, EventsSchema.Comm, _comm, n);
            Strings(rg, EventsSchema.CallSite, _callSite, n);
            Col(rg, EventsSchema.Pfn, _pfn, n); Col(rg, EventsSchema.Order, _order, n); Col(rg, EventsSchema.Gfp, _gfp, n);
            Col(rg, EventsSchema.Migratetype, _mt, n); Col(rg, EventsSchema.PercpuRefill, _refill, n);
            Col(rg, EventsSchema.FallbackOrder, _fbOrder, n); Col(rg, EventsSchema.AllocMigratetype, _allocMt, n);
            Col(rg, EventsSchema.FallbackMigratetype, _fbMt, n); Col(rg, EventsSchema.ChangeOwnership, _chown, n);
            Col(rg, EventsSchema.TlbReason, _tlbReason, n); Col(rg, EventsSchema.TlbPages, _tlbPages, n);
            Col(rg, EventsSchema.PrevPid, _prevPid, n); Col(rg, EventsSchema.NextPid, _nextPid, n); Col(rg, EventsSchema.PrevState, _prevState, n);
            Col(rg, EventsSchema.Ino, _ino, n); Col(rg, EventsSchema.Index, _index, n); Col(rg, EventsSchema.Dev, _dev, n);
            Col(rg, EventsSchema.Lost, _lost, n); Col(rg, EventsSchema.Bytes, _bytes, n);
            Col(rg, EventsSchema.MigratedPages, _migrated, n); Col(rg, EventsSchema.MigrateReason, _migrateReason, n);
        }
        catch (Exception e) when (e is not InvalidTraceException and not OutOfMemoryException)
        {
            throw new InvalidTraceException(_name, $"row group {index}", $"cannot read columns: {e.Message}");
        }
        _rows = n; _pos = 0;
        BytesConsumed = _stream.CanSeek ? _stream.Position : BytesConsumed;
    }

    // Columns are read through the file's own fields: another writer (DuckDB, pyarrow) declares the same columns
    // optional, and Parquet.Net reads a column through a field of other nullability wrongly, without an error.
    void Col<T>(ParquetRowGroupReader rg, global::Parquet.Schema.DataField<T?> ours, T?[] buf, int n) where T : struct
    {
        if (_fileFields.TryGetValue(ours.Name, out var theirs)) rg.ReadAsync(theirs, buf.AsMemory(0, n), null, default).AsTask().GetAwaiter().GetResult();
        else Array.Clear(buf, 0, n);
    }

    void Strings(ParquetRowGroupReader rg, global::Parquet.Schema.DataField<string> ours, string?[] buf, int n)
    {
        if (_fileFields.TryGetValue(ours.Name, out var theirs)) rg.ReadAsync(theirs, buf.AsMemory(0, n)!, null, default).AsTask().GetAwaiter().GetResult();
        else Array.Clear(buf, 0, n);
    }

    void Required<T>(ParquetRowGroupReader rg, global::Parquet.Schema.DataField<T> ours, T[] buf, int n, int rowGroup) where T : struct
    {
        var theirs = _fileFields[ours.Name];
        if (!theirs.IsNullable) { rg.ReadAsync(theirs, buf.AsMemory(0, n), null, default).AsTask().GetAwaiter().GetResult(); return; }
        var tmp = new T?[n];
        rg.ReadAsync(theirs, tmp.AsMemory(), null, default).AsTask().GetAwaiter().GetResult();
        for (int i = 0; i < n; i++)
            buf[i] = tmp[i] ?? throw new InvalidTraceException(_name, $"row group {rowGroup} row {i}", $"column '{ours.Name}' is null");
    }

    static void Ensure<T>(ref T[] a, int n) { if (a.Length < n) a = new T[n]; }

    public void Dispose()
    {
        ReturnRowGroups();
        _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Close();
    }

    void Close()
    {
        _stream.Dispose();
        _owner?.Dispose();
    }
}
