using System.IO.Compression;
using AsiTrace.Ingest.Canonical;
using global::Parquet;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Writes canonical events to Parquet column by column, one row group per <see cref="RowGroupSize"/> events, Zstd at
/// <see cref="CompressionLevel.Fastest"/> (the default level is ~150× slower: dotnet-stack.md §3). Column buffers are
/// allocated once; memory is bounded by the row group size. Metadata (source, clock, counters) goes into the footer.
/// </summary>
public sealed class EventsParquetWriter : IAsyncDisposable
{
    /// <summary>256 Ki rows: large enough for good compression, small enough that the column buffers are reused
    /// instead of fresh large-object memory each time (1 Mi-row groups were ~25% slower, with 17% of time in the
    /// kernel zeroing new pages).</summary>
    public const int DefaultRowGroupSize = 1 << 18;
    readonly ParquetWriter _writer;
    readonly int _rowGroupSize;
    readonly CommTextCache _commText = new();
    readonly CommTable? _callSites;
    EventsRowGroup? _current;
    public long EventsWritten { get; private set; }
    public int RowGroupSize => _rowGroupSize;

    EventsParquetWriter(ParquetWriter writer, int rowGroupSize, CommTable? callSites)
    {
        _writer = writer;
        _rowGroupSize = rowGroupSize;
        _callSites = callSites;
    }

    /// <summary>With <paramref name="callSites"/> (from <c>ingest --stacks</c>), the file gets a <c>call_site</c> column.</summary>
    public static async Task<EventsParquetWriter> CreateAsync(Stream output, int rowGroupSize = DefaultRowGroupSize, CommTable? callSites = null)
    {
        if (rowGroupSize < 1) throw new ArgumentOutOfRangeException(nameof(rowGroupSize));
        var options = new ParquetOptions { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = CompressionLevel.Fastest };
        options.ColumnEncodingHints[EventsSchema.TsNs.Name] = EncodingHint.DeltaBinaryPacked;
        // Parquet.Net pools its page streams without bound unless told (its docs: "indistinguishable from a memory
        // leak"); bounded here so peak RSS does not creep up with the number of row groups.
        options.MaximumLargePoolFreeBytes = 64 << 20;
        options.MaximumSmallPoolFreeBytes = 16 << 20;
        var w = await ParquetWriter.CreateAsync(callSites is null ? EventsSchema.Schema : EventsSchema.SchemaWithCallSite, output, options);
        return new EventsParquetWriter(w, rowGroupSize, callSites);
    }

    /// <summary>A buffer for one row group, to be filled on another thread and handed to <see cref="WriteRowGroupAsync"/>.</summary>
    public EventsRowGroup NewRowGroup() => new(_rowGroupSize, _commText, _callSites);

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
    public async ValueTask WriteRowGroupAsync(EventsRowGroup group)
    {
        if (group.Count == 0) return;
        using (var rg = _writer.CreateRowGroup()) await group.WriteToAsync(rg);
        EventsWritten += group.Count;
        group.Clear();
    }

    /// <summary>Writes the last row group and the footer with <paramref name="metadata"/>.</summary>
    public async ValueTask CompleteAsync(TraceMetadata metadata, TraceStats stats)
    {
        if (_current is not null) await WriteRowGroupAsync(_current);
        _writer.CustomMetadata = MetadataCodec.Encode(metadata, stats, EventsWritten);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
