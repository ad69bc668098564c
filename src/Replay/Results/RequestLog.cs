using Parquet;
using Parquet.Schema;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Results;

/// <summary>
/// <c>requests.parquet</c> (<c>replay --requests</c>): every allocation request with its class and why — the
/// classification the policies acted on. Written in row groups of 1 Mi rows as the replay goes, so memory stays bounded.
/// </summary>
public sealed class RequestLog : IDisposable
{
    const int RowGroup = 1 << 20;
    static readonly DataField<long> Ordinal = new("ordinal"), Ts = new("ts_ns"), Gfp = new("gfp");
    static readonly DataField<int> Cpu = new("cpu"), Pid = new("pid"), Order = new("order"), Mt = new("migratetype");
    static readonly DataField<string> Comm = new("comm", true), Class = new("class"), Reason = new("reason");
    static readonly ParquetSchema Schema = new(Ordinal, Ts, Cpu, Pid, Comm, Order, Gfp, Mt, Class, Reason);
    static readonly string[] ClassNames = ["nonsensitive", "sensitive", "unmapped"];
    static readonly string[] ReasonNames = ["rule", "hardwall", "page_cache", "default", "gfp_unmapped"];

    readonly Stream _stream;
    readonly ParquetWriter _writer;
    readonly Func<int, string?> _commOf;
    readonly long[] _ord = new long[RowGroup], _ts = new long[RowGroup], _gfp = new long[RowGroup];
    readonly int[] _cpu = new int[RowGroup], _pid = new int[RowGroup], _order = new int[RowGroup], _mt = new int[RowGroup];
    readonly string?[] _comm = new string?[RowGroup];
    readonly string[] _class = new string[RowGroup], _reason = new string[RowGroup];
    int _n;
    public long Rows { get; private set; }

    public RequestLog(Stream stream, Func<int, string?> commOf)
    {
        _stream = stream;
        _commOf = commOf;
        _writer = ParquetWriter.CreateAsync(Schema, stream, new ParquetOptions { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = System.IO.Compression.CompressionLevel.Fastest }).GetAwaiter().GetResult();
    }

    public void Add(in AllocRequest r, Sensitivity cls, ClassReason reason)
    {
        _ord[_n] = r.Ordinal; _ts[_n] = r.TsNs; _cpu[_n] = r.Cpu; _pid[_n] = r.Pid; _comm[_n] = r.CommId >= 0 ? _commOf(r.CommId) : null;
        _order[_n] = r.Order; _gfp[_n] = (long)r.Gfp; _mt[_n] = r.Migratetype; _class[_n] = ClassNames[(int)cls]; _reason[_n] = ReasonNames[(int)reason];
        Rows++;
        if (++_n == RowGroup) Flush();
    }

    void Flush()
    {
        if (_n == 0) return;
        using var rg = _writer.CreateRowGroup();
        rg.WriteAsync(Ordinal, (ReadOnlyMemory<long>)_ord.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Ts, (ReadOnlyMemory<long>)_ts.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Cpu, (ReadOnlyMemory<int>)_cpu.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Pid, (ReadOnlyMemory<int>)_pid.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Comm, new ArraySegment<string>(_comm!, 0, _n), null).GetAwaiter().GetResult();
        rg.WriteAsync(Order, (ReadOnlyMemory<int>)_order.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Gfp, (ReadOnlyMemory<long>)_gfp.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Mt, (ReadOnlyMemory<int>)_mt.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Class, new ArraySegment<string>(_class, 0, _n), null).GetAwaiter().GetResult();
        rg.WriteAsync(Reason, new ArraySegment<string>(_reason, 0, _n), null).GetAwaiter().GetResult();
        _n = 0;
    }

    public void Dispose()
    {
        Flush();
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
