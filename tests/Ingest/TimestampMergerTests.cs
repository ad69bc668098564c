using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Sorting;

namespace AsiTrace.Tests.Ingest;

/// <summary>The bounded merge: late events within reach come out in order; beyond reach they are counted, never lost.</summary>
public class TimestampMergerTests
{
    /// <summary>Hands out a fixed sequence in reads of a given size.</summary>
    sealed class ListReader(long[] ts, int readSize) : IEventReader
    {
        int _pos;
        public TraceMetadata Metadata { get; } = new();
        public TraceStats Stats { get; } = new();
        public CommTable Comms { get; } = new();
        public long BytesConsumed => _pos;
        public int Read(Span<TraceEvent> dest)
        {
            int n = Math.Min(Math.Min(dest.Length, readSize), ts.Length - _pos);
            for (int i = 0; i < n; i++) dest[i] = new TraceEvent { TsNs = ts[_pos], Pfn = (ulong)_pos++, Kind = EventKind.MmPageAlloc };
            return n;
        }
        public void Dispose() { }
    }

    static List<TraceEvent> Merge(long[] ts, int capacity, long window, int readSize, out TraceStats stats)
    {
        var inner = new ListReader(ts, readSize);
        using var m = new TimestampMerger(inner, window, capacity);
        stats = inner.Stats;
        var all = ReadAll.Drain(m);
        return all;
    }

    [Theory]
    [InlineData(1 << 10, 7)]
    [InlineData(1 << 10, 5000)]
    [InlineData(64, 3)]
    [InlineData(1 << 18, 4096)]
    public void PerCpuInterleavingComesOutSorted(int capacity, int readSize)
    {
        // Two CPUs' streams, each in order, interleaved in blocks as trace_pipe does: the second lags by up to 20 events.
        var rng = new Random(7);
        var ts = new List<long>();
        long a = 0, b = 0;
        while (ts.Count < 20_000)
        {
            int na = rng.Next(1, 20), nb = rng.Next(1, 20);
            for (int i = 0; i < na; i++) ts.Add(a += rng.Next(1, 10));
            for (int i = 0; i < nb; i++) ts.Add(b += rng.Next(1, 10));
        }
        var input = ts.ToArray();
        var output = Merge(input, capacity, window: 1_000_000, readSize, out var stats);
        Assert.Equal(input.Length, output.Count);
        // Nothing lost or duplicated: the Pfn carries the input position.
        Assert.Equal(Enumerable.Range(0, input.Length).Select(i => (ulong)i), output.Select(e => e.Pfn).Order());
        long regressions = stats.Get("timestamp_regressions");
        int outOfOrder = 0;
        for (int i = 1; i < output.Count; i++) if (output[i].TsNs < output[i - 1].TsNs) outOfOrder++;
        // With the lag far below capacity and displacement, the output is fully sorted.
        if (capacity >= 1024) { Assert.Equal(0, outOfOrder); Assert.Equal(0, regressions); }
        else Assert.True(outOfOrder <= regressions, $"{outOfOrder} inversions but {regressions} regressions counted");
        Assert.True(stats.Get("events_reordered") > 0);
    }

    [Fact]
    public void EventTooLateIsCountedAndKept()
    {
        // 10,000 in-order events, then one older than everything: beyond MaxDisplacement, it cannot be placed.
        var ts = Enumerable.Range(1, 10_000).Select(i => (long)i * 10).Append(5).ToArray();
        var output = Merge(ts, 1 << 14, long.MaxValue / 4, 1000, out var stats);
        Assert.Equal(ts.Length, output.Count);
        Assert.Equal(1, stats.Get("timestamp_regressions"));
    }

    [Fact]
    public void WindowReleasesOldEvents()
    {
        // Window 100 ns: an event 1,000 ns late arrives after its neighbours were released → a regression.
        long[] ts = [1000, 2000, 3000, 4000, 5000, 1500, 6000];
        var output = Merge(ts, 1 << 10, 100, 1, out var stats);
        Assert.Equal(7, output.Count);
        Assert.Equal(1, stats.Get("timestamp_regressions"));
        // Within the window, the same lateness is repaired.
        output = Merge(ts, 1 << 10, 1_000_000, 1, out stats);
        Assert.Equal(ts.Order().ToArray(), output.Select(e => e.TsNs).ToArray());
        Assert.Equal(0, stats.Get("timestamp_regressions"));
    }
}
