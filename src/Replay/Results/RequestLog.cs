using Parquet;
using Parquet.Schema;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Results;

/// <summary>
/// <c>requests.parquet</c> (<c>replay --requests</c>): every allocation request with its class and why — the
/// classification the policies acted on — its call site, and what placing it cost under each policy
/// (<c>estimated_ns_&lt;policy&gt;</c>). A chunk's rows are staged while it is reconstructed and appended once every
/// policy has played it; the file is written in row groups of 1 Mi rows, so memory stays bounded.
/// </summary>
public sealed class RequestLog : IDisposable
{
    const int RowGroup = 1 << 20;
    static readonly DataField<long> Ordinal = new("ordinal", false), Ts = new("ts_ns", false), Gfp = new("gfp", false);
    static readonly DataField<int> Cpu = new("cpu", false), Pid = new("pid", false), Order = new("order", false), Mt = new("migratetype", false);
    static readonly DataField<string> Comm = new("comm", true), CallSite = new("call_site", true), Class = new("class", false), Reason = new("reason", false);
    static readonly string[] ClassNames = ["nonsensitive", "sensitive", "unmapped"];
    static readonly string[] ReasonNames = ["rule", "hardwall", "page_cache", "default", "gfp_unmapped"];

    /// <summary>The rows of one chunk, staged until its costs are known.</summary>
    public sealed class Staged
    {
        internal long[] Ord = new long[256], Ts = new long[256], Gfp = new long[256];
        internal int[] Cpu = new int[256], Pid = new int[256], Order = new int[256], Mt = new int[256], Comm = new int[256], Site = new int[256];
        internal byte[] Class = new byte[256], Reason = new byte[256], Keep = new byte[256];
        public int Count { get; private set; }

        public void Clear() => Count = 0;

        /// <param name="keep">false for a request outside <c>--window</c>: staged (the policies' costs come per request,
        /// in order) but not written.</param>
        public void Add(in AllocRequest r, Sensitivity cls, ClassReason reason, bool keep = true)
        {
            if (Count == Ord.Length)
            {
                int n = Count * 2;
                Array.Resize(ref Ord, n); Array.Resize(ref Ts, n); Array.Resize(ref Gfp, n); Array.Resize(ref Cpu, n); Array.Resize(ref Pid, n);
                Array.Resize(ref Order, n); Array.Resize(ref Mt, n); Array.Resize(ref Comm, n); Array.Resize(ref Site, n);
                Array.Resize(ref Class, n); Array.Resize(ref Reason, n); Array.Resize(ref Keep, n);
            }
            int i = Count++;
            Ord[i] = r.Ordinal; Ts[i] = r.TsNs; Gfp[i] = (long)r.Gfp; Cpu[i] = r.Cpu; Pid[i] = r.Pid; Order[i] = r.Order; Mt[i] = r.Migratetype;
            Comm[i] = r.CommId; Site[i] = r.CallSiteId; Class[i] = (byte)cls; Reason[i] = (byte)reason; Keep[i] = keep ? (byte)1 : (byte)0;
        }
    }

    readonly ParquetWriter _writer;
    readonly ParquetSchema _schema;
    readonly DataField<double>[] _costFields;
    readonly Func<int, string?> _commOf, _callSiteOf;
    readonly long[] _ord = new long[RowGroup], _ts = new long[RowGroup], _gfp = new long[RowGroup];
    readonly int[] _cpu = new int[RowGroup], _pid = new int[RowGroup], _order = new int[RowGroup], _mt = new int[RowGroup];
    readonly string?[] _comm = new string?[RowGroup], _site = new string?[RowGroup];
    readonly string[] _class = new string[RowGroup], _reason = new string[RowGroup];
    readonly double[][] _cost;
    int _n;
    public long Rows { get; private set; }
    public int Policies => _costFields.Length;

    /// <param name="policies">the policies whose cost columns the file has, in the players' order.</param>
    public RequestLog(Stream stream, Func<int, string?> commOf, Func<int, string?> callSiteOf, IReadOnlyList<string> policies)
    {
        _commOf = commOf;
        _callSiteOf = callSiteOf;
        _costFields = policies.Select(p => new DataField<double>("estimated_ns_" + p, false)).ToArray();
        _cost = policies.Select(_ => new double[RowGroup]).ToArray();
        _schema = new ParquetSchema([Ordinal, Ts, Cpu, Pid, Comm, CallSite, Order, Gfp, Mt, Class, Reason, .. _costFields]);
        _writer = ParquetWriter.CreateAsync(_schema, stream, new ParquetOptions { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = System.IO.Compression.CompressionLevel.Fastest }).GetAwaiter().GetResult();
    }

    /// <summary>Appends a chunk's staged rows; <paramref name="costs"/> holds, per row, one cost per policy.</summary>
    public void Append(Staged s, double[]? costs)
    {
        int p = Policies;
        for (int i = 0; i < s.Count; i++)
        {
            if (s.Keep[i] == 0) continue;
            _ord[_n] = s.Ord[i]; _ts[_n] = s.Ts[i]; _cpu[_n] = s.Cpu[i]; _pid[_n] = s.Pid[i]; _comm[_n] = s.Comm[i] >= 0 ? _commOf(s.Comm[i]) : null;
            _site[_n] = s.Site[i] >= 0 ? _callSiteOf(s.Site[i]) : null;
            _order[_n] = s.Order[i]; _gfp[_n] = s.Gfp[i]; _mt[_n] = s.Mt[i]; _class[_n] = ClassNames[s.Class[i]]; _reason[_n] = ReasonNames[s.Reason[i]];
            for (int k = 0; k < p; k++) _cost[k][_n] = costs is null ? 0 : costs[i * p + k];
            Rows++;
            if (++_n == RowGroup) Flush();
        }
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
        rg.WriteAsync(CallSite, new ArraySegment<string>(_site!, 0, _n), null).GetAwaiter().GetResult();
        rg.WriteAsync(Order, (ReadOnlyMemory<int>)_order.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Gfp, (ReadOnlyMemory<long>)_gfp.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Mt, (ReadOnlyMemory<int>)_mt.AsMemory(0, _n)).GetAwaiter().GetResult();
        rg.WriteAsync(Class, new ArraySegment<string>(_class, 0, _n), null).GetAwaiter().GetResult();
        rg.WriteAsync(Reason, new ArraySegment<string>(_reason, 0, _n), null).GetAwaiter().GetResult();
        for (int k = 0; k < _costFields.Length; k++)
            rg.WriteAsync(_costFields[k], (ReadOnlyMemory<double>)_cost[k].AsMemory(0, _n)).GetAwaiter().GetResult();
        _n = 0;
    }

    public void Dispose()
    {
        Flush();
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
