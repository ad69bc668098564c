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

/// <summary>Targeted corruptions of real files at known structure offsets (the fuzz test covers the rest).</summary>
public class BinaryBadInputTests
{
    static string Corrupt(string sample, Action<byte[]> change)
    {
        var bytes = File.ReadAllBytes(TestPaths.Sample(sample));
        change(bytes);
        string p = Path.Combine(TestPaths.TempDir(), Path.GetFileName(sample));
        File.WriteAllBytes(p, bytes);
        return p;
    }

    static InvalidTraceException ReadFails(string path) =>
        Assert.Throws<InvalidTraceException>(() => { using var r = AsiTrace.Ingest.Pipeline.TraceOpener.Open(path, new()); ReadAll.Drain(r); });

    [Fact]
    public void ChunkThatInflatesPastItsDeclaredSize()
    {
        // v7-zstd.dat: CPU 1's data starts at 1044480 (u32 chunk count); its third chunk header is at 1055026
        // (u32 compressed 4670, u32 uncompressed 28672). Declare one page instead.
        string p = Corrupt("trace-cmd/v7-zstd.dat", b => BitConverter.GetBytes(4096u).CopyTo(b, 1055030));
        var e = ReadFails(p);
        Assert.Contains("byte 10550", e.Message);
    }

    [Fact]
    public void SectionSizePointingPastTheEnd()
    {
        // The first options section offset is the u64 after "zstd\01.5.4\0" (byte 29); its section header's size
        // field is at +8. Make it enormous.
        var bytes = File.ReadAllBytes(TestPaths.Sample("trace-cmd/v7-zstd.dat"));
        long options = BitConverter.ToInt64(bytes, 29);
        string p = Corrupt("trace-cmd/v7-zstd.dat", b => BitConverter.GetBytes(ulong.MaxValue / 2).CopyTo(b, (int)options + 8));
        var e = ReadFails(p);
        Assert.Contains($"byte {options + 8}", e.Message);
        Assert.Contains("past the end", e.Message);
    }

    [Fact]
    public void PerfDataSectionOutsideTheFileAndTruncatedRecords()
    {
        // Header: data section {offset @40, size @48}.
        var e1 = ReadFails(Corrupt("perf/kmem.perf.data", b => BitConverter.GetBytes(1UL << 40).CopyTo(b, 48)));
        Assert.Contains("outside the file", e1.Message);
        // A record whose size field is 0 would loop forever if trusted.
        var bytes = File.ReadAllBytes(TestPaths.Sample("perf/kmem.perf.data"));
        long data = BitConverter.ToInt64(bytes, 40);
        var e2 = ReadFails(Corrupt("perf/kmem.perf.data", b => { b[data + 6] = 0; b[data + 7] = 0; }));
        Assert.Contains($"byte {data}", e2.Message);
    }

    [Fact]
    public void TruncatedFilesNameWhereTheyEnd()
    {
        foreach (var sample in new[] { "trace-cmd/v7-zstd.dat", "perf/kmem.perf.data" })
        {
            var bytes = File.ReadAllBytes(TestPaths.Sample(sample));
            foreach (int len in new[] { 10, 100, 5000, bytes.Length / 2, bytes.Length - 1 })
            {
                string p = Path.Combine(TestPaths.TempDir(), "cut.bin");
                File.WriteAllBytes(p, bytes[..len]);
                try { using var r = AsiTrace.Ingest.Pipeline.TraceOpener.Open(p, new()); ReadAll.Drain(r); }
                catch (InvalidTraceException e) { Assert.Contains(p, e.Message); Assert.Contains("byte", e.Message); continue; }
                // Reading may also succeed when the cut only removes the end of event data; it must not crash.
            }
        }
    }
}

/// <summary>
/// trace-cmd on this machine has no zlib, so a zlib trace.dat is made from the real uncompressed v7 recording: the
/// per-CPU pages are rewritten in place as zlib chunks (u32 count, then u32 compressed/uncompressed sizes and data),
/// the BUFFER section is flagged compressed and the header names zlib — the layout trace-cmd writes for zstd.
/// </summary>
public class ZlibTraceDatTests
{
    [Fact]
    public void ZlibCompressedCpuDataDecodesToTheSameEvents()
    {
        string plain = PeerExactnessTests.Materialize(TestPaths.Sample("trace-cmd/v7-none.dat.gz"));
        byte[] bytes = File.ReadAllBytes(plain);
        AsiTrace.Ingest.Binary.TraceDat.TraceDatFile layout;
        using (var input = TraceInput.Open(plain)) layout = AsiTrace.Ingest.Binary.TraceDat.TraceDatFile.Parse(input.Mapped!);
        Assert.Equal("none", layout.Compression);
        Assert.True(layout.BufferSectionOffset > 0);
        Assert.Equal("none\0"u8.ToArray(), bytes[18..23]); // after magic, "7\0", endianness, long size, page size
        "zlib"u8.CopyTo(bytes.AsSpan(18));
        bytes[(int)layout.BufferSectionOffset + 2] |= 1; // section flags: compressed
        for (int i = 0; i < layout.Cpus.Count; i++)
        {
            var cpu = layout.Cpus[i];
            var region = bytes.AsSpan((int)cpu.Offset, (int)cpu.Size).ToArray();
            var output = new MemoryStream();
            var chunks = new List<(byte[] Data, int Raw)>();
            int chunkBytes = layout.PageSize * 4;
            for (int at = 0; at < region.Length; at += chunkBytes)
            {
                int n = Math.Min(chunkBytes, region.Length - at);
                var ms = new MemoryStream();
                using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(region, at, n);
                chunks.Add((ms.ToArray(), n));
            }
            var w = new BinaryWriter(output);
            w.Write((uint)chunks.Count);
            foreach (var (data, raw) in chunks) { w.Write((uint)data.Length); w.Write((uint)raw); w.Write(data); }
            var packed = output.ToArray();
            Assert.True(packed.Length <= region.Length, "compressed data must fit where the pages were");
            packed.CopyTo(bytes, cpu.Offset);
            // The recorded size counts the chunks, not the u32 count in front of them.
            BitConverter.GetBytes((ulong)(packed.Length - 4)).CopyTo(bytes, layout.CpuSizeFieldOffsets[i]);
        }
        string zlibFile = Path.Combine(TestPaths.TempDir(), "v7-zlib.dat");
        File.WriteAllBytes(zlibFile, bytes);

        var (want, r1) = ReadAll.Path(plain);
        var (got, r2) = ReadAll.Path(zlibFile);
        Assert.Contains("zlib", string.Join(" ", r2.Metadata.Notes));
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++)
        {
            var a = want[i]; var b = got[i];
            Assert.Equal(r1.Comms[a.CommId], r2.Comms[b.CommId]);
            a.CommId = b.CommId = 0;
            Assert.True(a.Equals(b), $"event {i} differs");
        }
        r1.Dispose(); r2.Dispose();
    }
}
