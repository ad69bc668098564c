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

    static long Stats(string path)
    {
        using var reader = TraceOpener.Open(path, new IngestOptions());
        var summary = new EventSummary();
        EventPipeline.RunSummary(reader, summary);
        return summary.Events;
    }

    long Ingest(string path)
    {
        using var reader = TraceOpener.Open(path, new IngestOptions());
        var summary = new EventSummary();
        using var fs = File.Create(_out);
        var writer = EventsParquetWriter.CreateAsync(fs).GetAwaiter().GetResult();
        EventsPipelines.ToParquet(reader, summary, writer);
        writer.CompleteAsync(reader.Metadata, reader.Stats).AsTask().GetAwaiter().GetResult();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return summary.Events;
    }

    static void Peer(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command + " > /dev/null 2>&1"]))!;
        p.WaitForExit();
    }

    [Benchmark(Description = "asitrace stats: trace.dat")]
    public long StatsTraceDat() => Stats(_dat);

    [Benchmark(Description = "asitrace stats: perf.data")]
    public long StatsPerfData() => Stats(_perf);

    [Benchmark(Description = "asitrace ingest → Parquet: trace.dat")]
    public long IngestTraceDat() => Ingest(_dat);

    [Benchmark(Description = "asitrace ingest → Parquet: perf.data")]
    public long IngestPerfData() => Ingest(_perf);

    [Benchmark(Description = "trace-cmd report > /dev/null")]
    public void TraceCmdReport() => Peer($"trace-cmd report -i '{_dat}'");

    [Benchmark(Description = "perf script > /dev/null")]
    public void PerfScript() => Peer($"perf script -i '{_perf}'");
}
