using System.Buffers;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Writes canonical events to Parquet, one row group per <see cref="RowGroupSize"/> events, every column chunk a single
/// zstd-compressed page. The column names and types are exactly those Parquet.Net maps to <see cref="EventsSchema"/>
/// (so <see cref="EventsParquetReader"/> and DuckDB read the file unchanged); the encoding is our own
/// <see cref="ParquetFileWriter"/>, because Parquet.Net's encoder limited <c>ingest</c> to ~3.8 M events/s.
/// Memory is bounded by the row group size. Metadata (source, clock, counters) goes into the footer.
/// </summary>
public sealed class EventsParquetWriter : IAsyncDisposable
{
    /// <summary>256 Ki rows: large enough for good compression, small enough that three buffers (filling, queued,
    /// writing) stay around 100 MB.</summary>
    public const int DefaultRowGroupSize = 1 << 18;
    readonly ParquetFileWriter _writer;
    readonly int _rowGroupSize;
    readonly Utf8Cache _commUtf8 = new();
    readonly Utf8Cache? _callSiteUtf8;
    readonly GfpNameCache _gfpNames;
    readonly ArrayBufferWriter<byte> _scratch = new(1 << 20);
    EventsRowGroup? _current;
    public long EventsWritten { get; private set; }
    public int RowGroupSize => _rowGroupSize;

    EventsParquetWriter(Stream output, int rowGroupSize, CommTable? callSites, GfpTable? gfpFlags)
    {
        _rowGroupSize = rowGroupSize;
        _gfpNames = new GfpNameCache(gfpFlags ?? GfpEras.Table(GfpEras.Latest));
        _callSiteUtf8 = callSites is null ? null : new Utf8Cache(callSites);
        _writer = new ParquetFileWriter(output, Columns(callSites is not null));
    }

    /// <summary>With <paramref name="callSites"/> (from <c>ingest --stacks</c>), the file gets a <c>call_site</c> column.
    /// <paramref name="gfpFlags"/> renders <c>gfp_names</c> (the reader's table, <see cref="TraceMetadata.GfpFlags"/>;
    /// the latest built-in table without one).</summary>
    public static Task<EventsParquetWriter> CreateAsync(Stream output, int rowGroupSize = DefaultRowGroupSize, CommTable? callSites = null,
        GfpTable? gfpFlags = null)
    {
        if (rowGroupSize < 1) throw new ArgumentOutOfRangeException(nameof(rowGroupSize));
        return Task.FromResult(new EventsParquetWriter(output, rowGroupSize, callSites, gfpFlags));
    }

    // parquet.thrift ConvertedType: UTF8 0, UINT_8 11, UINT_16 12, UINT_32 13, UINT_64 14, INT_8 15, INT_32 17, INT_64 18.
    static List<ColumnSpec> Columns(bool callSite)
    {
        const ColumnSpec.Physical I32 = ColumnSpec.Physical.Int32, I64 = ColumnSpec.Physical.Int64, B = ColumnSpec.Physical.Boolean, S = ColumnSpec.Physical.ByteArray;
        static ColumnSpec Int(string name, ColumnSpec.Physical t, bool opt, int conv, int bits, bool signed) => new(name, t, opt, conv, bits, signed);
        static ColumnSpec Str(string name, bool opt) => new(name, S, opt, 0, IsString: true);
        var c = new List<ColumnSpec>
        {
            Int(EventsSchema.TsNs.Name, I64, false, 18, 64, true) with { Encoding = ColumnSpec.DeltaBinaryPacked }, Int(EventsSchema.Cpu.Name, I32, false, 12, 16, false), Int(EventsSchema.Pid.Name, I32, true, 17, 32, true),
            Str(EventsSchema.Comm.Name, true), Str(EventsSchema.Kind.Name, false),
            Int(EventsSchema.Pfn.Name, I64, true, 14, 64, false), Int(EventsSchema.Order.Name, I32, true, 11, 8, false), Int(EventsSchema.Gfp.Name, I64, true, 14, 64, false),
            Int(EventsSchema.Migratetype.Name, I32, true, 15, 8, true), new(EventsSchema.PercpuRefill.Name, B, true, null),
            Int(EventsSchema.FallbackOrder.Name, I32, true, 15, 8, true), Int(EventsSchema.AllocMigratetype.Name, I32, true, 15, 8, true),
            Int(EventsSchema.FallbackMigratetype.Name, I32, true, 15, 8, true), new(EventsSchema.ChangeOwnership.Name, B, true, null),
            Int(EventsSchema.TlbReason.Name, I32, true, 11, 8, false), Int(EventsSchema.TlbPages.Name, I64, true, 18, 64, true),
            Int(EventsSchema.PrevPid.Name, I32, true, 17, 32, true), Int(EventsSchema.NextPid.Name, I32, true, 17, 32, true), Int(EventsSchema.PrevState.Name, I64, true, 18, 64, true),
            Int(EventsSchema.Ino.Name, I64, true, 14, 64, false), Int(EventsSchema.Index.Name, I64, true, 14, 64, false), Int(EventsSchema.Dev.Name, I32, true, 13, 32, false),
            Int(EventsSchema.Lost.Name, I64, true, 18, 64, true), Int(EventsSchema.Bytes.Name, I64, true, 18, 64, true),
            Int(EventsSchema.MigratedPages.Name, I64, true, 18, 64, true), Int(EventsSchema.MigrateReason.Name, I32, true, 11, 8, false),
            Str(EventsSchema.GfpNames.Name, true), Str(EventsSchema.MigratetypeName.Name, true),
        };
        if (callSite) c.Add(Str(EventsSchema.CallSite.Name, true));
        return c;
    }

    /// <summary>A buffer for one row group, to be filled on another thread and handed to <see cref="WriteRowGroupAsync"/>.</summary>
    public EventsRowGroup NewRowGroup() => new(_rowGroupSize, _commUtf8, _callSiteUtf8, _gfpNames);

    /// <summary>Appends events; <paramref name="comms"/> resolves their comm ids.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<TraceEvent> events, CommTable comms)
    {
        _current ??= NewRowGroup();
        int i = 0;
        while (i < events.Length)
        {
            i += _current.Fill(events.Span[i..], comms);
            if (_current.IsFull) await WriteRowGroupAsync(_current);
        }
    }

    /// <summary>Encodes a filled row group and clears it for reuse.</summary>
    public ValueTask WriteRowGroupAsync(EventsRowGroup group)
    {
        if (group.Count == 0) return ValueTask.CompletedTask;
        group.WriteTo(_writer, _scratch);
        EventsWritten += group.Count;
        group.Clear();
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes the last row group and the footer with <paramref name="metadata"/>.</summary>
    public async ValueTask CompleteAsync(TraceMetadata metadata, TraceStats stats)
    {
        if (_current is not null) await WriteRowGroupAsync(_current);
        _writer.Finish(MetadataCodec.Encode(metadata, stats, EventsWritten));
    }

    public ValueTask DisposeAsync()
    {
        _writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
