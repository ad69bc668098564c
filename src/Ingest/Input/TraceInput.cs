namespace AsiTrace.Ingest.Input;

/// <summary>
/// An opened input: the decompressed byte stream with its first bytes available for detection.
/// Compression is recognised by magic number (gzip 1f 8b, zstd 28 b5 2f fd), never by file name.
/// </summary>
public sealed class TraceInput : IDisposable
{
    public const int PeekSize = 64 * 1024;
    public string Name { get; }
    public string? Compression { get; }
    /// <summary>Compressed size on disk when known (for progress); null for stdin.</summary>
    public long? FileLength { get; }
    public Stream RawFile { get; }
    public PeekableStream Stream { get; }
    public ReadOnlyMemory<byte> Head { get; }
    /// <summary>The whole file mapped, for uncompressed regular files; null for compressed input and pipes.</summary>
    public MappedFile? Mapped { get; private set; }

    TraceInput(string name, string? compression, long? length, Stream raw, PeekableStream stream, ReadOnlyMemory<byte> head)
    { Name = name; Compression = compression; FileLength = length; RawFile = raw; Stream = stream; Head = head; }

    public static TraceInput Open(string path)
    {
        Stream raw;
        long? length = null;
        if (path == "-") raw = Console.OpenStandardInput();
        else
        {
            try
            {
                var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                // A FIFO or a character device reads like stdin: no length, no mapping.
                length = fs.CanSeek ? fs.Length : null;
                raw = fs;
            }
            catch (FileNotFoundException) { throw new IOException($"{path}: no such file"); }
            catch (DirectoryNotFoundException) { throw new IOException($"{path}: no such file or directory"); }
        }
        var input = FromStream(path == "-" ? "<stdin>" : path, raw, length);
        if (input.Compression is null && raw is FileStream { CanSeek: true } file) input.Mapped = MappedFile.TryMap(input.Name, file);
        return input;
    }

    public static TraceInput FromStream(string name, Stream raw, long? length = null)
    {
        var magic = new byte[4];
        int m = ReadFully(raw, magic);
        Stream content = new PeekableStream(magic, m, raw);
        string? compression = null;
        if (m >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) { compression = "gzip"; content = DecompressingStream.Gzip(name, content); }
        else if (m >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) { compression = "zstd"; content = DecompressingStream.Zstd(name, content); }
        var head = new byte[PeekSize];
        int n;
        try { n = ReadFully(content, head); }
        catch (InvalidTraceException) { raw.Dispose(); throw; }
        return new TraceInput(name, compression, length, raw, new PeekableStream(head, n, content), head.AsMemory(0, n));
    }

    static int ReadFully(Stream s, byte[] buf)
    {
        int total = 0;
        while (total < buf.Length)
        {
            int n = s.Read(buf, total, buf.Length - total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Bytes of the file read so far (compressed bytes for compressed input).</summary>
    public long RawPosition => RawFile.CanSeek ? RawFile.Position : Stream.Position;

    public void Dispose()
    {
        Mapped?.Dispose();
        Stream.Dispose();
    }
}
