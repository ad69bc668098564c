using System.Text;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Sorting;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Tests.Ingest;

public class FuzzAndAllocationTests
{
    static readonly string[] Samples = ["dd-cat/trace.txt", "trace-cmd/v6.report.txt", "perf/kmem.perf.script.txt"];

    /// <summary>Seeded mutations of real lines through detection and every dialect: no exception but ours, no hang.</summary>
    [Fact]
    public void MutatedRealLinesNeverCrash()
    {
        var rng = new Random(20261123);
        var lines = Samples.SelectMany(s => File.ReadLines(TestPaths.Sample(s)).Take(400)).ToArray();
        byte[] alphabet = Encoding.ASCII.GetBytes(" -[]():=|.0123456789abcxfGFP_\t#\0\xff");
        long decoded = 0;
        for (int round = 0; round < 300; round++)
        {
            var sb = new MemoryStream();
            for (int i = 0; i < 40; i++)
            {
                var b = Encoding.UTF8.GetBytes(lines[rng.Next(lines.Length)]).ToList();
                int edits = rng.Next(1, 6);
                for (int k = 0; k < edits && b.Count > 0; k++)
                {
                    int pos = rng.Next(b.Count);
                    switch (rng.Next(4))
                    {
                        case 0: b[pos] = alphabet[rng.Next(alphabet.Length)]; break;
                        case 1: b.RemoveRange(pos, Math.Min(rng.Next(1, 12), b.Count - pos)); break;
                        case 2: b.Insert(pos, alphabet[rng.Next(alphabet.Length)]); break;
                        default: b.InsertRange(pos, b.GetRange(0, Math.Min(rng.Next(1, 30), b.Count))); break;
                    }
                }
                sb.Write(b.ToArray());
                if (rng.Next(10) != 0) sb.WriteByte((byte)'\n');
            }
            var data = sb.ToArray();
            foreach (var dialect in new TextDialect?[] { null, TextDialect.Ftrace, TextDialect.PerfScript, TextDialect.Latency, TextDialect.LatencyVerbose })
            {
                try
                {
                    var input = TraceInput.FromStream("fuzz", new MemoryStream(data));
                    IEventReader reader;
                    if (dialect is null)
                    {
                        var d = FormatDetector.Detect(input.Head.Span);
                        if (d is null || d.Value.Format is not (InputFormat.Ftrace or InputFormat.TraceCmdReport or InputFormat.PerfScript)) { input.Dispose(); continue; }
                        reader = new TextTraceReader(input, d.Value.Dialect, GfpEras.Table(GfpEras.Latest));
                    }
                    else reader = new TextTraceReader(input, dialect.Value, GfpEras.Table(GfpEras.Latest));
                    using var merged = new TimestampMerger(reader, capacity: 64);
                    decoded += ReadAll.Drain(merged).Count;
                }
                catch (InvalidTraceException) { }
            }
        }
        Assert.True(decoded > 0, "the fuzzer should still decode many unmutated-enough lines");
    }

    /// <summary>The decode loop allocates nothing per event: allocated bytes stay flat across ≥ 1 M events.</summary>
    [Fact]
    public void DecodeLoopAllocatesNothingPerEvent()
    {
        var ms = new MemoryStream();
        // ≥ 1 M events: the real sample's lines tiled with shifted timestamps.
        TraceTiler.Tile(TestPaths.Sample("dd-cat/trace.txt"), ms, 1_300_000);
        ms.Position = 0;
        var input = TraceInput.FromStream("big", ms);
        using var reader = new TimestampMerger(new TextTraceReader(input, TextDialect.Ftrace, GfpEras.Table(GfpEras.Latest)));
        var buf = new TraceEvent[EventPipeline.ChunkSize];
        var summary = new EventSummary();
        // Warm up: first chunks intern every comm and gfp string once.
        for (int i = 0; i < 3; i++) summary.Add(buf.AsSpan(0, reader.Read(buf)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        long count = 0;
        int n;
        while ((n = reader.Read(buf)) > 0) { count += n; summary.Add(buf.AsSpan(0, n)); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(count >= 1_000_000, $"only {count} events");
        // Flat: well under one byte per event (a few stats diagnostics may be kept once).
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated over {count} events");
        Assert.Equal(0, reader.Stats.Get("timestamp_regressions"));
    }
}
