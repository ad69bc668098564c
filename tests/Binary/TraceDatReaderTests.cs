using System.IO.Compression;
using AsiTrace.Ingest.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Tests.Ingest;

namespace AsiTrace.Tests.Binary;

/// <summary>Reader facts that hold without the peer tools installed.</summary>
public class TraceDatReaderTests
{
    [Theory]
    [InlineData("trace-cmd/v7-zstd.dat", "trace-cmd-dat-v7", 6965)]
    [InlineData("trace-cmd/v6.dat.gz", "trace-cmd-dat-v6", 9103)]
    [InlineData("trace-cmd/v7-none.dat.gz", "trace-cmd-dat-v7", 7100)]
    public void MetadataAndCountsOfRealFiles(string sample, string format, int events)
    {
        var (list, reader) = ReadAll.Path(TestPaths.Sample(sample));
        Assert.Equal(format, reader.Metadata.SourceFormat);
        Assert.Equal("6.18.44-fc-v657", reader.Metadata.KernelRelease);
        Assert.Equal("local", reader.Metadata.Clock);
        Assert.Equal(2, reader.Metadata.CpuCount);
        Assert.StartsWith("format:", reader.Metadata.GfpTable);
        Assert.Equal(events, list.Count);
        for (int i = 1; i < list.Count; i++) Assert.True(list[i].TsNs >= list[i - 1].TsNs, $"event {i} out of order");
        Assert.All(list, e => Assert.True(e.Has(EventFields.Pid | EventFields.Comm)));
        reader.Dispose();
    }

    [Fact]
    public void MissedEventsOnPagesBecomeLostRows()
    {
        // trace-cmd extract after an 8 KiB buffer overflowed: the first page of each CPU says how many were lost.
        var (list, reader) = ReadAll.Path(TestPaths.Sample("trace-cmd/lost-extract.dat"));
        var lost = list.Where(e => e.Kind == EventKind.LostEvents).ToList();
        Assert.Equal(2, lost.Count);
        Assert.Equal(1135, lost.Single(e => e.Cpu == 0).Lost);
        Assert.Equal(2732, lost.Single(e => e.Cpu == 1).Lost);
        Assert.Equal(1135 + 2732, reader.Stats.Get("lost_events"));
        // Each row comes right before the first surviving event of its CPU, with that event's time.
        foreach (var l in lost)
        {
            int at = list.IndexOf(l);
            var next = list.Skip(at + 1).First(e => e.Cpu == l.Cpu);
            Assert.Equal(next.TsNs, l.TsNs);
        }
        reader.Dispose();
    }

    [Fact]
    public void ZlibBlocksInflateToTheirDeclaredSizeOrFail()
    {
        // trace-cmd on this machine only offers zstd; zlib blocks are checked here with the same size rules.
        var page = new byte[4096 * 3];
        new Random(1).NextBytes(page.AsSpan(0, 2000));
        var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(page);
        byte[] packed = ms.ToArray();
        using var d = new BlockDecompressor("zlib", "test.dat");
        var dest = new byte[page.Length];
        d.Decompress(packed, dest, 100);
        Assert.Equal(page, dest);
        var e1 = Assert.Throws<InvalidTraceException>(() => d.Decompress(packed, new byte[page.Length - 1], 100));
        Assert.Contains("byte 100", e1.Message);
        Assert.Throws<InvalidTraceException>(() => d.Decompress(packed, new byte[page.Length + 4096], 100));
        var corrupt = (byte[])packed.Clone();
        corrupt[packed.Length / 2] ^= 0xff;
        Assert.Throws<InvalidTraceException>(() => d.Decompress(corrupt, new byte[page.Length], 100));
        Assert.Throws<InvalidTraceException>(() => new BlockDecompressor("lz4", "test.dat"));
    }
}
