using System.IO.Compression;

namespace AsiTrace.Tests.Hostile;

/// <summary>Compressed input that is cut short or corrupt past the detection peek is invalid input (exit 3) naming the
/// file and the compressed offset, from a file and through stdin; never an I/O error, a crash or a partial success.</summary>
public class CompressedInputTests
{
    static byte[] TraceText() => File.ReadAllBytes(TestPaths.Sample("dd-cat/trace.txt"));

    static string Write(byte[] bytes, string name)
    {
        var path = Path.Combine(TestPaths.TempDir(), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    static byte[] Zstd(byte[] data)
    {
        using var c = new ZstdSharp.Compressor(3);
        return c.Wrap(data).ToArray();
    }

    [Fact]
    public void WholeFilesStillRead()
    {
        foreach (var (bytes, name) in new[] { (Gzip(TraceText()), "t.gz"), (Zstd(TraceText()), "t.zst") })
        {
            var (code, _, err) = Cli.CliTests.Run("stats", Write(bytes, name));
            Assert.True(code == 0, err);
        }
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    public void TruncatedIsExit3WithTheCompressedOffset(string format)
    {
        var whole = format == "gzip" ? Gzip(TraceText()) : Zstd(TraceText());
        var cut = whole[..(whole.Length * 2 / 3)];
        var path = Write(cut, "cut." + format);
        var (code, _, err) = Cli.CliTests.Run("stats", path);
        Assert.Equal(3, code);
        Assert.Contains(path, err);
        Assert.Contains("compressed byte", err);
        // Through stdin too.
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", $"dotnet {Path.Combine(AppContext.BaseDirectory, "asitrace.dll")} stats - < {path}"]) { RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stdinErr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(3, p.ExitCode);
        Assert.Contains("<stdin>", stdinErr);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    public void CorruptPastThePeekIsExit3(string format)
    {
        // The middle of the compressed stream decompresses to about 200 KB, past the 64 KiB detection peek.
        var text = TraceText();
        var whole = format == "gzip" ? Gzip(text) : Zstd(text);
        var bad = (byte[])whole.Clone();
        for (int i = whole.Length / 2; i < whole.Length / 2 + 64; i++) bad[i] ^= 0x5A;
        var path = Write(bad, "bad." + format);
        var (code, _, err) = Cli.CliTests.Run("stats", path);
        Assert.Equal(3, code);
        Assert.Contains(path, err);
        Assert.Contains("compressed byte", err);
    }
}
