using AsiTrace.Ingest;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Tests.Hostile;

/// <summary>
/// The corpus the coverage-guided campaigns built (fuzz/run.sh: afl++ and SharpFuzz, one harness per reader) and every
/// crash they found, replayed through the same readers with the format forced as the harness forces it: each input
/// ends in events or invalid input, in bounded allocation.
/// </summary>
public class FuzzCorpusTests
{
    static readonly Dictionary<string, InputFormat> Readers = new()
    {
        ["text"] = InputFormat.Ftrace, ["csv"] = InputFormat.Csv, ["parquet"] = InputFormat.EventsParquet,
        ["perf-data"] = InputFormat.PerfData, ["trace-dat"] = InputFormat.TraceDat,
    };

    public static TheoryData<string> Sets() => ["corpus", "crashes"];

    [Theory]
    [MemberData(nameof(Sets))]
    public async Task EveryCorpusAndCrashInputEndsCleanly(string set)
    {
        var root = Path.Combine(TestPaths.RepoRoot, "tests", "Fuzz", set);
        int inputs = 0;
        foreach (var (reader, format) in Readers)
        {
            var dir = Path.Combine(root, reader);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir))
            {
                inputs++;
                // A hang is a finding too (afl++ keeps inputs that pass its 10 s limit): a small input that takes a
                // minute is one, on any machine.
                var read = Task.Run(() =>
                {
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    try
                    {
                        using var r = TraceOpener.Open(file, new IngestOptions { Format = format });
                        var buf = new AsiTrace.Ingest.Canonical.TraceEvent[1024];
                        while (r.Read(buf) > 0) { }
                    }
                    catch (InvalidTraceException) { }
                    return GC.GetAllocatedBytesForCurrentThread() - before;
                });
                var done = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(60)));
                Assert.True(done == read, $"{file}: still reading after 60 s");
                Assert.True(await read < 512 << 20, $"{file}: more than 512 MB allocated");
            }
        }
        if (set == "corpus") Assert.True(inputs >= 5, "the committed corpus is missing");
    }
}
