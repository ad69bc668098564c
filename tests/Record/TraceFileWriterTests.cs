using AsiTrace.Ingest.Record;
using Xunit;

namespace AsiTrace.Tests.Record;

public class TraceFileWriterTests
{
    static byte[] Text(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)(i % 61 == 60 ? '\n' : 'a' + i % 26);
        return b;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]   // the buffered fallback, for filesystems that refuse O_DIRECT
    public void the_file_holds_exactly_what_was_written_whatever_the_chunk_sizes(bool allowDirect)
    {
        string dir = TestPaths.TempDir();
        try
        {
            string path = Path.Combine(dir, "trace.txt");
            var data = Text(3 * (1 << 20) + 12_345);   // past three 1 MiB buffers, ending mid-block
            bool direct;
            using (var w = TraceFileWriter.Create(path, allowDirect))
            {
                direct = w.Direct;
                int off = 0, k = 0;
                int[] sizes = [1, 4095, 65536, 7, 1 << 20, 300_001];
                while (off < data.Length)
                {
                    int n = Math.Min(sizes[k++ % sizes.Length], data.Length - off);
                    w.Write(data.AsSpan(off, n));
                    off += n;
                }
                Assert.Equal(data.Length, w.Length);
                w.Finish();
            }
            Assert.Equal(data, File.ReadAllBytes(path));
            if (!allowDirect) Assert.False(direct);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void what_was_written_survives_a_dispose_without_finish()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "trace.txt");
        var data = Text(10_000);
        using (var w = TraceFileWriter.Create(path)) w.Write(data);
        Assert.Equal(data, File.ReadAllBytes(path));
    }
}
