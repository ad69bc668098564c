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
    public const int DefaultRowGroupSize = 1 << 20;
    readonly ParquetWriter _writer;
    readonly int _rowGroupSize;
    int _n;
    public long EventsWritten { get; private set; }

    readonly long[] _ts; readonly ushort[] _cpu; readonly int?[] _pid; readonly string?[] _comm; readonly string[] _kind;
    readonly ulong?[] _pfn; readonly byte?[] _order; readonly ulong?[] _gfp; readonly sbyte?[] _mt; readonly bool?[] _refill;
    readonly sbyte?[] _fbOrder; readonly sbyte?[] _allocMt; readonly sbyte?[] _fbMt; readonly bool?[] _chown;
    readonly byte?[] _tlbReason; readonly long?[] _tlbPages; readonly int?[] _prevPid; readonly int?[] _nextPid; readonly long?[] _prevState;
    readonly ulong?[] _ino; readonly ulong?[] _index; readonly uint?[] _dev; readonly long?[] _lost;

    public int RowGroupSize => _rowGroupSize;

    EventsParquetWriter(ParquetWriter writer, int rowGroupSize)
    {
        _writer = writer;
        _rowGroupSize = rowGroupSize;
        int n = rowGroupSize;
        _ts = new long[n]; _cpu = new ushort[n]; _pid = new int?[n]; _comm = new string?[n]; _kind = new string[n];
        _pfn = new ulong?[n]; _order = new byte?[n]; _gfp = new ulong?[n]; _mt = new sbyte?[n]; _refill = new bool?[n];
        _fbOrder = new sbyte?[n]; _allocMt = new sbyte?[n]; _fbMt = new sbyte?[n]; _chown = new bool?[n];
        _tlbReason = new byte?[n]; _tlbPages = new long?[n]; _prevPid = new int?[n]; _nextPid = new int?[n]; _prevState = new long?[n];
        _ino = new ulong?[n]; _index = new ulong?[n]; _dev = new uint?[n]; _lost = new long?[n];
    }

    public static async Task<EventsParquetWriter> CreateAsync(Stream output, int rowGroupSize = DefaultRowGroupSize)
    {
        var options = new ParquetOptions { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = CompressionLevel.Fastest };
        options.ColumnEncodingHints[EventsSchema.TsNs.Name] = EncodingHint.DeltaBinaryPacked;
        var w = await ParquetWriter.CreateAsync(EventsSchema.Schema, output, options);
        return new EventsParquetWriter(w, rowGroupSize);
    }

    /// <summary>Appends events; <paramref name="comms"/> resolves their comm ids.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<TraceEvent> events, CommTable comms)
    {
        int i = 0;
        while (i < events.Length)
        {
            int take = Math.Min(events.Length - i, _rowGroupSize - _n);
            Fill(events.Span.Slice(i, take), comms);
            i += take;
            if (_n == _rowGroupSize) await FlushAsync();
        }
    }

    void Fill(ReadOnlySpan<TraceEvent> events, CommTable comms)
    {
        int n = _n;
        foreach (ref readonly var e in events)
        {
            var f = e.Fields;
            _ts[n] = e.TsNs;
            _cpu[n] = e.Cpu;
            _pid[n] = (f & EventFields.Pid) != 0 ? e.Pid : null;
            _comm[n] = (f & EventFields.Comm) != 0 ? comms[e.CommId] : null;
            _kind[n] = EventKinds.Name(e.Kind);
            _pfn[n] = (f & EventFields.Pfn) != 0 ? e.Pfn : null;
            _order[n] = (f & EventFields.Order) != 0 ? e.Order : null;
            _gfp[n] = (f & EventFields.Gfp) != 0 ? e.Gfp : null;
            _mt[n] = (f & EventFields.Migratetype) != 0 ? e.Migratetype : null;
            _refill[n] = (f & EventFields.PercpuRefill) != 0 ? e.PercpuRefill != 0 : null;
            _fbOrder[n] = (f & EventFields.FallbackOrder) != 0 ? e.FallbackOrder : null;
            _allocMt[n] = (f & EventFields.AllocMigratetype) != 0 ? e.AllocMigratetype : null;
            _fbMt[n] = (f & EventFields.FallbackMigratetype) != 0 ? e.FallbackMigratetype : null;
            _chown[n] = (f & EventFields.ChangeOwnership) != 0 ? e.ChangeOwnership != 0 : null;
            _tlbReason[n] = (f & EventFields.TlbReason) != 0 ? e.TlbReason : null;
            _tlbPages[n] = (f & EventFields.TlbPages) != 0 ? e.TlbPages : null;
            _prevPid[n] = (f & EventFields.PrevPid) != 0 ? e.PrevPid : null;
            _nextPid[n] = (f & EventFields.NextPid) != 0 ? e.NextPid : null;
            _prevState[n] = (f & EventFields.PrevState) != 0 ? e.PrevState : null;
            _ino[n] = (f & EventFields.Ino) != 0 ? e.Ino : null;
            _index[n] = (f & EventFields.Index) != 0 ? e.Index : null;
            _dev[n] = (f & EventFields.Dev) != 0 ? e.Dev : null;
            _lost[n] = (f & EventFields.Lost) != 0 ? e.Lost : null;
            n++;
        }
        _n = n;
    }

    async ValueTask FlushAsync()
    {
        if (_n == 0) return;
        int n = _n;
        using (var rg = _writer.CreateRowGroup())
        {
            await rg.WriteAsync(EventsSchema.TsNs, (ReadOnlyMemory<long>)_ts.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Cpu, (ReadOnlyMemory<ushort>)_cpu.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Pid, (ReadOnlyMemory<int?>)_pid.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Comm, new ArraySegment<string>(_comm!, 0, n));
            await rg.WriteAsync(EventsSchema.Kind, new ArraySegment<string>(_kind, 0, n));
            await rg.WriteAsync(EventsSchema.Pfn, (ReadOnlyMemory<ulong?>)_pfn.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Order, (ReadOnlyMemory<byte?>)_order.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Gfp, (ReadOnlyMemory<ulong?>)_gfp.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Migratetype, (ReadOnlyMemory<sbyte?>)_mt.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.PercpuRefill, (ReadOnlyMemory<bool?>)_refill.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.FallbackOrder, (ReadOnlyMemory<sbyte?>)_fbOrder.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.AllocMigratetype, (ReadOnlyMemory<sbyte?>)_allocMt.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.FallbackMigratetype, (ReadOnlyMemory<sbyte?>)_fbMt.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.ChangeOwnership, (ReadOnlyMemory<bool?>)_chown.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.TlbReason, (ReadOnlyMemory<byte?>)_tlbReason.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.TlbPages, (ReadOnlyMemory<long?>)_tlbPages.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.PrevPid, (ReadOnlyMemory<int?>)_prevPid.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.NextPid, (ReadOnlyMemory<int?>)_nextPid.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.PrevState, (ReadOnlyMemory<long?>)_prevState.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Ino, (ReadOnlyMemory<ulong?>)_ino.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Index, (ReadOnlyMemory<ulong?>)_index.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Dev, (ReadOnlyMemory<uint?>)_dev.AsMemory(0, n));
            await rg.WriteAsync(EventsSchema.Lost, (ReadOnlyMemory<long?>)_lost.AsMemory(0, n));
        }
        EventsWritten += n;
        _n = 0;
    }

    /// <summary>Writes the last row group and the footer with <paramref name="metadata"/>.</summary>
    public async ValueTask CompleteAsync(TraceMetadata metadata, TraceStats stats)
    {
        await FlushAsync();
        _writer.CustomMetadata = MetadataCodec.Encode(metadata, stats, EventsWritten);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
