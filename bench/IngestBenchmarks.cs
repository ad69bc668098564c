using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Text;
using BenchmarkDotNet.Attributes;

namespace AsiTrace.Bench;

/// <summary>
/// Decode-only (what <c>stats</c> does) and ingest-to-Parquet (what <c>ingest</c> does) on a large real-line trace:
/// the dd-cat sample tiled by <see cref="TraceTiler"/> to ASITRACE_BENCH_EVENTS events (default 4 M), generated once
/// into the temp directory (not committed). Events/s = events / mean time; see BENCHMARKS.md.
/// </summary>
[MemoryDiagnoser]
public class IngestBenchmarks
{
    string _trace = "";
    string _out = "";
    public long Events;

    [GlobalSetup]
    public void Setup()
    {
        Events = long.TryParse(Environment.GetEnvironmentVariable("ASITRACE_BENCH_EVENTS"), out var n) ? n : 4_000_000;
        _trace = Path.Combine(Path.GetTempPath(), $"asitrace-bench-{Events}.txt");
        if (!File.Exists(_trace))
        {
            string sample = Path.Combine(FindRoot(), "sample-traces", "dd-cat", "trace.txt");
            using var fs = File.Create(_trace + ".tmp");
            TraceTiler.Tile(sample, fs, Events);
            fs.Close();
            File.Move(_trace + ".tmp", _trace, true);
        }
        _out = Path.Combine(Path.GetTempPath(), "asitrace-bench-out.parquet");
    }

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "AsiTrace.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    [Benchmark(Description = "stats: decode + merge, 1 thread")]
    public long DecodeOnly() => BenchRuns.Stats(_trace);

    [Benchmark(Description = "ingest: decode thread + Parquet writer")]
    public long IngestParquet() => BenchRuns.IngestToParquet(_trace, _out);
}
