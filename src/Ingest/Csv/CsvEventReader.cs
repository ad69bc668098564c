using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Text;
using CsvHelper;

namespace AsiTrace.Ingest.Csv;

/// <summary>
/// Reads canonical events from CSV (columns by header name, any order, any subset beyond <c>ts_ns</c> and <c>kind</c>)
/// so users can feed events from their own tools. gfp accepts a number (decimal or <c>0x</c>) in the canonical layout or
/// printed names (<c>GFP_KERNEL|__GFP_ZERO</c>); booleans accept true/false/1/0. A bad row is counted with its line and
/// byte offset; a file without the required header is invalid input.
/// </summary>
public sealed class CsvEventReader : IEventReader
{
    readonly CsvReader _csv;
    readonly TraceInput _input;
    readonly int[] _col = new int[CsvColumns.All.Length];
    readonly GfpTextDecoder _gfp;
    readonly int _hRows, _hBad, _hUnknownKind;
    public TraceMetadata Metadata { get; } = new() { SourceFormat = "csv" };
    public TraceStats Stats { get; } = new();
    public CommTable Comms { get; } = new();
    public long BytesConsumed => _input.RawPosition;

    public CsvEventReader(TraceInput input, GfpTable gfpTable)
    {
        _input = input;
        _gfp = new GfpTextDecoder(gfpTable);
        Metadata.Inputs.Add(input.Name);
        Metadata.GfpTable = "canonical";
        _csv = CsvReader.Create(input.Stream, new CsvReaderOptions { HasHeader = true, TrackLineNumbers = true, MaxRecordSize = 1 << 20 }, false);
        try { _csv.ReadHeader(); }
        catch (Exception e) when (e is not OutOfMemoryException) { throw new InvalidTraceException(input.Name, "line 1", $"cannot read CSV header: {e.Message}"); }
        var headers = _csv.Headers;
        for (int i = 0; i < _col.Length; i++) _col[i] = -1;
        for (int h = 0; h < headers.Count; h++)
        {
            int c = Array.IndexOf(CsvColumns.All, headers[h].Trim());
            if (c >= 0) _col[c] = h;
        }
        if (_col[CsvColumns.TsNs] < 0 || _col[CsvColumns.Kind] < 0)
            throw new InvalidTraceException(input.Name, "line 1", $"CSV header must name at least ts_ns and kind; it has: {string.Join(",", headers)}");
        _hRows = Stats.Register("csv_rows", Severity.Info);
        _hBad = Stats.Register("malformed_csv_row", Severity.Error);
        _hUnknownKind = Stats.Register("csv_unknown_kind", Severity.Info);
    }

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            bool more;
            try { more = _csv.Read(); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidTraceException(_input.Name, $"line {_csv.LineNumber} (byte {_csv.ByteOffset})", $"malformed CSV: {e.Message}");
            }
            if (!more) break;
            Stats.Add(_hRows);
            ref var e2 = ref dest[n];
            e2 = default;
            var status = TryRow(ref e2);
            if (status == RowStatus.Ok) n++;
            else if (status == RowStatus.Bad) Stats.Report(_hBad, $"line {_csv.LineNumber} (byte {_csv.ByteOffset})", _csv.RawRecord);
        }
        return n;
    }

    enum RowStatus { Ok, Bad, Skipped }

    RowStatus TryRow(ref TraceEvent e)
    {
        var kind = Cell(CsvColumns.Kind);
        e.Kind = EventKinds.FromTracepoint(kind);
        if (e.Kind == EventKind.None)
        {
            if (kind.SequenceEqual("lost_events"u8)) e.Kind = EventKind.LostEvents;
            else if (kind.IsEmpty) return RowStatus.Bad;
            else { Stats.Add(_hUnknownKind); Stats.OtherEvents.Add(kind); return RowStatus.Skipped; }
        }
        if (!SpanNumber.TryParseSignedDec(Cell(CsvColumns.TsNs), out e.TsNs)) return RowStatus.Bad;
        if (!U(CsvColumns.Cpu, ushort.MaxValue, out ulong cpu, out bool hasCpu)) return RowStatus.Bad;
        e.Cpu = (ushort)cpu;
        _ = hasCpu;
        if (!I32(CsvColumns.Pid, EventFields.Pid, ref e, out e.Pid)) return RowStatus.Bad;
        var comm = Cell(CsvColumns.Comm);
        if (!comm.IsEmpty) { e.CommId = Comms.Intern(comm); e.Fields |= EventFields.Comm; }
        if (!U64(CsvColumns.Pfn, EventFields.Pfn, ref e, out e.Pfn)) return RowStatus.Bad;
        if (!U(CsvColumns.Order, 63, out ulong order, out bool hasOrder)) return RowStatus.Bad;
        if (hasOrder) { e.Order = (byte)order; e.Fields |= EventFields.Order; }
        // Columns that share storage in TraceEvent are parsed into locals and stored once the row is known to set one
        // of each group: a parse of an empty cell gives 0, which would overwrite the group's value.
        var gfp = Cell(CsvColumns.Gfp);
        ulong gfpValue = 0;
        if (!gfp.IsEmpty)
        {
            if (SpanNumber.TryParseDec(gfp, out gfpValue)) { }
            else if (gfp.Length > 2 && gfp[0] == '0' && (gfp[1] | 0x20) == 'x' && SpanNumber.TryParseHex(gfp[2..], out gfpValue)) { }
            else if (!_gfp.TryDecode(gfp, out gfpValue)) return RowStatus.Bad;
            e.Fields |= EventFields.Gfp;
        }
        if (!I8(CsvColumns.Migratetype, EventFields.Migratetype, ref e, out e.Migratetype)) return RowStatus.Bad;
        if (!Bool(CsvColumns.PercpuRefill, EventFields.PercpuRefill, ref e, out e.PercpuRefill)) return RowStatus.Bad;
        if (!I8(CsvColumns.FallbackOrder, EventFields.FallbackOrder, ref e, out sbyte fallbackOrder)) return RowStatus.Bad;
        if (!I8(CsvColumns.AllocMigratetype, EventFields.AllocMigratetype, ref e, out sbyte allocMt)) return RowStatus.Bad;
        if (!I8(CsvColumns.FallbackMigratetype, EventFields.FallbackMigratetype, ref e, out sbyte fallbackMt)) return RowStatus.Bad;
        if (!Bool(CsvColumns.ChangeOwnership, EventFields.ChangeOwnership, ref e, out byte changeOwnership)) return RowStatus.Bad;
        if (!U(CsvColumns.TlbReason, 255, out ulong reason, out bool hasReason)) return RowStatus.Bad;
        if (hasReason) { e.TlbReason = (byte)reason; e.Fields |= EventFields.TlbReason; }
        if (!I64(CsvColumns.TlbPages, EventFields.TlbPages, ref e, out long tlbPages)) return RowStatus.Bad;
        if (!I32(CsvColumns.PrevPid, EventFields.PrevPid, ref e, out int prevPid)) return RowStatus.Bad;
        if (!I32(CsvColumns.NextPid, EventFields.NextPid, ref e, out int nextPid)) return RowStatus.Bad;
        if (!I64(CsvColumns.PrevState, EventFields.PrevState, ref e, out long prevState)) return RowStatus.Bad;
        if (!U64(CsvColumns.Ino, EventFields.Ino, ref e, out ulong ino)) return RowStatus.Bad;
        if (!U64(CsvColumns.Index, EventFields.Index, ref e, out e.Index)) return RowStatus.Bad;
        if (!U(CsvColumns.Dev, uint.MaxValue, out ulong dev, out bool hasDev)) return RowStatus.Bad;
        if (hasDev) e.Fields |= EventFields.Dev;
        if (!I64(CsvColumns.Lost, EventFields.Lost, ref e, out long lost)) return RowStatus.Bad;
        if (!I64(CsvColumns.Bytes, EventFields.Bytes, ref e, out long bytes)) return RowStatus.Bad;
        if (!I64(CsvColumns.MigratedPages, EventFields.MigratedPages, ref e, out long migrated)) return RowStatus.Bad;
        if (!U(CsvColumns.MigrateReason, 255, out ulong migrateReason, out bool hasMigrateReason)) return RowStatus.Bad;
        if (hasMigrateReason) e.Fields |= EventFields.MigrateReason;
        if (TraceEvent.ColumnsClash(e.Fields)) return RowStatus.Bad;
        // An empty cell parsed as 0 and the row sets at most one column of each group: OR-ing a group's values stores the
        // one set (as the fast Parquet reader does).
        e.Gfp = gfpValue | (ulong)tlbPages | (ulong)bytes | (ulong)lost | ino | (ulong)prevState | (ulong)migrated;
        if (hasMigrateReason) e.MigrateReason = (byte)migrateReason;
        e.PrevPid = prevPid | (int)(uint)dev;
        if (e.Has(EventFields.NextPid)) e.NextPid = nextPid;
        else
        {
            e.FallbackOrder = fallbackOrder;
            e.AllocMigratetype = allocMt;
            e.FallbackMigratetype = fallbackMt;
            e.ChangeOwnership = changeOwnership;
        }
        return RowStatus.Ok;
    }

    ReadOnlySpan<byte> Cell(int column)
    {
        int i = _col[column];
        if (i < 0 || i >= _csv.FieldCount) return default;
        return _csv.GetSpan(i).Trim((byte)' ');
    }

    bool U(int column, ulong max, out ulong v, out bool has)
    {
        var c = Cell(column);
        has = !c.IsEmpty; v = 0;
        if (!has) return true;
        return SpanNumber.TryParseAuto(c, out v) && v <= max;
    }

    bool U64(int column, EventFields field, ref TraceEvent e, out ulong v)
    {
        if (!U(column, ulong.MaxValue, out v, out bool has)) return false;
        if (has) e.Fields |= field;
        return true;
    }

    bool I64(int column, EventFields field, ref TraceEvent e, out long v)
    {
        var c = Cell(column);
        v = 0;
        if (c.IsEmpty) return true;
        if (!SpanNumber.TryParseSignedDec(c, out v)) return false;
        e.Fields |= field;
        return true;
    }

    bool I32(int column, EventFields field, ref TraceEvent e, out int v)
    {
        v = 0;
        if (!I64(column, field, ref e, out long l)) return false;
        if (l < int.MinValue || l > int.MaxValue) return false;
        v = (int)l;
        return true;
    }

    bool I8(int column, EventFields field, ref TraceEvent e, out sbyte v)
    {
        v = 0;
        if (!I64(column, field, ref e, out long l)) return false;
        if (l < sbyte.MinValue || l > sbyte.MaxValue) return false;
        v = (sbyte)l;
        return true;
    }

    bool Bool(int column, EventFields field, ref TraceEvent e, out byte v)
    {
        var c = Cell(column);
        v = 0;
        if (c.IsEmpty) return true;
        if (c.SequenceEqual("true"u8) || c.SequenceEqual("1"u8) || c.SequenceEqual("True"u8)) v = 1;
        else if (!(c.SequenceEqual("false"u8) || c.SequenceEqual("0"u8) || c.SequenceEqual("False"u8))) return false;
        e.Fields |= field;
        return true;
    }

    public void Dispose()
    {
        _csv.Dispose();
        _input.Dispose();
    }
}
