using System.Diagnostics;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;
using BenchmarkDotNet.Attributes;

namespace AsiTrace.Bench;

/// <summary>
/// The binary readers against the tools users would otherwise run, on the same large real recordings (made by
/// <c>bench/record-large.sh DIR</c> as root; not committed): <c>stats</c> (decode only), <c>ingest</c> to Parquet, and
/// <c>trace-cmd report</c> / <c>perf script</c> writing their text to /dev/null. DIR is ASITRACE_BENCH_LARGE
/// (default /tmp/asitrace-large-1).
/// </summary>
[MemoryDiagnoser]
public class BinaryBenchmarks
{
    string _dir = "", _dat = "", _perf = "", _out = "";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Environment.GetEnvironmentVariable("ASITRACE_BENCH_LARGE") ?? "/tmp/asitrace-large-1";
        _dat = Path.Combine(_dir, "large.dat");
        _perf = Path.Combine(_dir, "large.perf.data");
        if (!File.Exists(_dat) || !File.Exists(_perf))
            throw new InvalidOperationException($"no recordings in {_dir}: run `sudo bench/record-large.sh {_dir}` first");
        _out = Path.Combine(Path.GetTempPath(), "asitrace-bench-binary.parquet");
    }

    static void Peer(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command + " > /dev/null 2>&1"]))!;
        p.WaitForExit();
    }

    [Benchmark(Description = "asitrace stats: trace.dat")]
    public long StatsTraceDat() => BenchRuns.Stats(_dat);

    [Benchmark(Description = "asitrace stats: perf.data")]
    public long StatsPerfData() => BenchRuns.Stats(_perf);

    [Benchmark(Description = "asitrace ingest → Parquet: trace.dat")]
    public long IngestTraceDat() => BenchRuns.IngestToParquet(_dat, _out);

    [Benchmark(Description = "asitrace ingest → Parquet: perf.data")]
    public long IngestPerfData() => BenchRuns.IngestToParquet(_perf, _out);

    [Benchmark(Description = "trace-cmd report > /dev/null")]
    public void TraceCmdReport() => Peer($"trace-cmd report -i '{_dat}'");

    [Benchmark(Description = "perf script > /dev/null")]
    public void PerfScript() => Peer($"perf script -i '{_perf}'");
}
