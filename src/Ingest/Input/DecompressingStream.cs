using System.Buffers.Binary;
using System.IO.Compression;

namespace AsiTrace.Ingest.Input;

/// <summary>
/// A gzip or zstd decompressor whose failures are the input's fault: corrupt data anywhere in the file, not just in the
/// part format detection peeked at, and a file that ends before its compressed stream does, are an
/// <see cref="InvalidTraceException"/> naming the compressed byte offset (exit 3), never an I/O error or silent success.
/// </summary>
/// <remarks>
/// .NET's <see cref="GZipStream"/> ends quietly when the file is cut short inside a deflate block, so at the end the
/// gzip trailer (RFC 1952 §2.3.1: CRC32, then ISIZE = the uncompressed length mod 2^32, little-endian) is checked
/// against the bytes produced. The trailer is the last eight bytes read, which works for pipes as well as files. A
/// concatenation of gzip members is checked against its last member's length only, and is refused with a message that
/// says to decompress it first; trace tools write single-member files.
/// </remarks>
public sealed class DecompressingStream : ForwardReadStream
{
    readonly string _name;
    readonly string _format;
    readonly TailCountingStream _raw;
    readonly Stream _inner;
    long _produced;
    bool _ended;

    DecompressingStream(string name, string format, TailCountingStream raw, Stream inner)
    { _name = name; _format = format; _raw = raw; _inner = inner; }

    public static DecompressingStream Gzip(string name, Stream compressed)
    {
        var raw = new TailCountingStream(compressed);
        return new DecompressingStream(name, "gzip", raw, new GZipStream(raw, CompressionMode.Decompress));
    }

    public static DecompressingStream Zstd(string name, Stream compressed)
    {
        var raw = new TailCountingStream(compressed);
        return new DecompressingStream(name, "zstd", raw, new ZstdSharp.DecompressionStream(raw));
    }

    public override int Read(Span<byte> buffer)
    {
        if (_ended || buffer.IsEmpty) return 0;
        int n;
        try { n = _inner.Read(buffer); }
        catch (InvalidDataException e) { throw Corrupt(e.Message); }
        catch (ZstdSharp.ZstdException e) { throw Corrupt(e.Message); }
        catch (EndOfStreamException) { throw Truncated(); }
        // ZstdSharp reports a stream cut short as a plain IOException ("Premature end of stream").
        catch (IOException e) when (e.GetType() == typeof(IOException) && _format == "zstd") { throw Truncated(e.Message); }
        if (n > 0) { _produced += n; return n; }
        _ended = true;
        if (_format == "gzip") CheckGzipTrailer();
        return 0;
    }

    void CheckGzipTrailer()
    {
        if (_raw.Position < 18) throw Truncated();
        uint isize = BinaryPrimitives.ReadUInt32LittleEndian(_raw.Tail.AsSpan(4, 4));
        if (isize != (uint)_produced)
            throw new InvalidTraceException(_name, $"compressed byte {_raw.Position}",
                $"gzip data ends early or is corrupt: {_produced} bytes decompressed, the trailer says {isize} (mod 2^32); " +
                "a concatenation of several gzip members is checked against the last one only: decompress it first");
    }

    InvalidTraceException Corrupt(string why) =>
        new(_name, $"compressed byte {_raw.Position}", $"corrupt {_format} data after {_produced} decompressed bytes: {why}");

    InvalidTraceException Truncated(string? why = null) =>
        new(_name, $"compressed byte {_raw.Position}", $"the file ends inside the {_format} stream after {_produced} decompressed bytes" + (why is null ? "" : $" ({why})"));

    /// <summary>Compressed bytes read so far.</summary>
    public long CompressedPosition => _raw.Position;
    public override long Position { get => _produced; set => throw new NotSupportedException(); }
    protected override void Dispose(bool disposing) { if (disposing) _inner.Dispose(); base.Dispose(disposing); }

    /// <summary>Counts the compressed bytes read and keeps the last eight (the gzip trailer, once the stream ends).</summary>
    sealed class TailCountingStream(Stream inner) : ForwardReadStream
    {
        public byte[] Tail { get; } = new byte[8];
        long _pos;
        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            if (n <= 0) return n;
            if (n >= 8) buffer.Slice(n - 8, 8).CopyTo(Tail);
            else
            {
                Tail.AsSpan(n).CopyTo(Tail);
                buffer[..n].CopyTo(Tail.AsSpan(8 - n));
            }
            _pos += n;
            return n;
        }
        public override long Position { get => _pos; set => throw new NotSupportedException(); }
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }
}
