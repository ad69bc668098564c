using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Synth;
using BenchmarkDotNet.Attributes;

namespace AsiTrace.Bench;

/// <summary>Events already in memory, in order: isolates the replay (pre-scan, reconstruction, models) from decoding.</summary>
sealed class MemoryEventReader(SynthTrace t) : IOrderedEventReader
{
    int _pos;
    public TraceMetadata Metadata => t.Metadata;
    public TraceStats Stats { get; } = new();
    public CommTable Comms => t.Comms;
    public long BytesConsumed => _pos;
    public int Read(Span<TraceEvent> dest)
    {
        int n = Math.Min(dest.Length, t.Events.Count - _pos);
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(t.Events).Slice(_pos, n).CopyTo(dest);
        _pos += n;
        return n;
    }
    public void Dispose() { }
}

/// <summary>
/// Replay speed (issue 6): the kernel-build scenario (2,000,000 events: 488 processes × 1,024 pages allocated, touched
/// and freed, plus context switches) replayed from memory through one policy, and through four side by side on two cores.
/// Events/s = events / mean; each event goes through the pre-scan and the replay (two passes).
/// </summary>
public class ReplayBenchmarks
{
    SynthTrace _trace = null!;

    [GlobalSetup]
    public void Setup() => _trace = Scenarios.Generate("kernel-build", new Dictionary<string, string> { ["processes"] = Environment.GetEnvironmentVariable("ASITRACE_BENCH_PROCESSES") ?? "488", ["mib_per_process"] = "4" });

    long Run(params string[] policies)
    {
        var specs = policies.Select(p => { PolicySpec.TryParse(p, out var s); return s; }).ToList();
        var r = ReplayRunner.Run(() => new MemoryEventReader(_trace), new ReplayOptions { Policies = specs, IntervalNs = 0 });
        return r.Events;
    }

    [Benchmark(Description = "replay noasi (1 policy)")]
    public long NoAsi() => Run("noasi");

    [Benchmark(Description = "replay asi-rfc (1 policy)")]
    public long AsiRfc() => Run("asi-rfc");

    [Benchmark(Description = "replay asi-freetypes (1 policy)")]
    public long AsiFreetypes() => Run("asi-freetypes");

    [Benchmark(Description = "replay 4 policies side by side (2 cores)")]
    public long Four() => Run("noasi", "asi-rfc", "asi-freetypes", "secretfree");
}

/// <summary>
/// Replay from an events Parquet file (issue 6: four policies over a 10 M-event trace in under 10 s on two cores):
/// the kernel-build scenario with 2,440 processes × 8 MiB (9,999,120 events, as `synth kernel-build --param processes=2440`) written once by the setup, then read twice per
/// replay (pre-scan, replay) as the CLI does.
/// </summary>
public class ReplayFromFileBenchmarks
{
    string _path = null!;

    [GlobalSetup]
    public void Setup()
    {
        var trace = Scenarios.Generate("kernel-build", new Dictionary<string, string> { ["processes"] = Environment.GetEnvironmentVariable("ASITRACE_BENCH_FILE_PROCESSES") ?? "2440", ["mib_per_process"] = "8" });
        _path = Path.Combine(Path.GetTempPath(), $"asitrace-bench-replay-{Environment.ProcessId}.parquet");
        using var fs = File.Create(_path);
        var w = AsiTrace.Ingest.Parquet.EventsParquetWriter.CreateAsync(fs).GetAwaiter().GetResult();
        w.WriteAsync(trace.Events.ToArray(), trace.Comms).AsTask().GetAwaiter().GetResult();
        w.CompleteAsync(trace.Metadata, new TraceStats()).AsTask().GetAwaiter().GetResult();
        w.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    long Run(params string[] policies)
    {
        var specs = policies.Select(p => { PolicySpec.TryParse(p, out var s); return s; }).ToList();
        var r = ReplayRunner.Run(() => AsiTrace.Ingest.Pipeline.TraceOpener.Open(_path, new AsiTrace.Ingest.Pipeline.IngestOptions()),
            new ReplayOptions { Policies = specs });
        return r.Events;
    }

    [Benchmark(Description = "replay noasi from a 10 M-event events file")]
    public long NoAsi() => Run("noasi");

    [Benchmark(Description = "replay 4 policies from a 10 M-event events file (2 cores)")]
    public long Four() => Run("noasi", "asi-rfc", "asi-freetypes", "secretfree");
}
