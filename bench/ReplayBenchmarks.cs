using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Requests;
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
/// Replay speed: the kernel-build scenario (1,000,400 events: 488 processes × 1,024 pages allocated, touched
/// and freed, plus context switches; BENCHMARKS.md's runs set ASITRACE_BENCH_PROCESSES=1952: 4,001,600 events)
/// replayed from memory through one policy, and through four side by side on two cores.
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
/// Replay from an events Parquet file (target: four policies over a 10 M-event trace in under 10 s on two cores):
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

/// <summary>
/// The replay's two busy stages apart, single-threaded, on the input of <see cref="ReplayBenchmarks"/>: the request
/// reconstruction (pass 2's reading thread: one per replay whatever the number of policies) and one policy's work
/// (its thread: the engine built as the replay builds it, then every chunk's requests played into it). The full
/// replay's time is about pass 1 plus the slower of the two. Same input and ASITRACE_BENCH_PROCESSES as
/// <see cref="ReplayBenchmarks"/>.
/// </summary>
public class ReplayStageBenchmarks
{
    SynthTrace _trace = null!;
    PreScan _scan = null!;
    readonly List<RequestBatch> _batches = new();

    [GlobalSetup]
    public void Setup()
    {
        _trace = Scenarios.Generate("kernel-build", new Dictionary<string, string> { ["processes"] = Environment.GetEnvironmentVariable("ASITRACE_BENCH_PROCESSES") ?? "488", ["mib_per_process"] = "4" });
        _scan = new PreScan(1L << 28, trackPcpLists: false);
        _scan.Add(Events);
        var recon = NewReconstructor();
        for (int o = 0; o < Events.Length; o += ReplayRunner.Chunk)
        {
            var b = new RequestBatch();
            recon.Add(ChunkAt(Events, o), b);
            _batches.Add(b);
        }
    }

    /// <summary>The replay's chunk of events starting at <paramref name="o"/>.</summary>
    static ReadOnlySpan<TraceEvent> ChunkAt(ReadOnlySpan<TraceEvent> events, int o) => events.Slice(o, Math.Min(ReplayRunner.Chunk, events.Length - o));

    ReadOnlySpan<TraceEvent> Events => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_trace.Events);

    RequestReconstructor NewReconstructor()
    {
        var classifier = new AsiTrace.Replay.Classify.SensitivityClassifier([], _ => null, _scan.PageCacheAllocations > 0 ? _scan.IsPageCache : null);
        return new RequestReconstructor([], _scan.KeepAllocated, (in AllocRequest r, out AsiTrace.Replay.Classify.ClassReason why) => classifier.Classify(in r, out why));
    }

    [Benchmark(Description = "reconstruction alone")]
    public long Reconstruction()
    {
        var recon = NewReconstructor();
        var batch = new RequestBatch();
        var events = Events;
        for (int o = 0; o < events.Length; o += ReplayRunner.Chunk) recon.Add(ChunkAt(events, o), batch);
        return recon.Allocations;
    }

    long Play(string policy)
    {
        PolicySpec.TryParse(policy, out var spec);
        var machine = ReplayRunner.MachineAfterPreScan(spec, _scan, _trace.Metadata.CpuCount);
        var player = new RequestPlayer<MachineSink>(new MachineSink(machine));
        var events = Events;
        for (int k = 0, o = 0; k < _batches.Count; k++, o += ReplayRunner.Chunk)
        {
            player.Begin(_batches[k]);
            var chunk = ChunkAt(events, o);
            for (int j = 0; j < chunk.Length; j++) player.Event(j, in chunk[j]);
        }
        return machine.Accesses[0] + machine.Accesses[1];
    }

    [Benchmark(Description = "noasi policy work alone")]
    public long NoAsi() => Play("noasi");

    [Benchmark(Description = "asi-rfc policy work alone")]
    public long AsiRfc() => Play("asi-rfc");

    [Benchmark(Description = "asi-freetypes policy work alone")]
    public long AsiFreetypes() => Play("asi-freetypes");
}
