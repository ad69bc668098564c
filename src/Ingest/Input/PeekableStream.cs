namespace AsiTrace.Ingest.Input;

/// <summary>A read-only stream that replays a prefix already read from <paramref name="inner"/>, so format detection
/// can look at the start of stdin or a decompressor without seeking.</summary>
public sealed class PeekableStream(byte[] prefix, int prefixLength, Stream inner) : Stream
{
    int _pos;
    long _consumed;
    public Stream Inner => inner;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _consumed; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer)
    {
        int n;
        if (_pos < prefixLength)
        {
            n = Math.Min(buffer.Length, prefixLength - _pos);
            prefix.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
        }
        else n = inner.Read(buffer);
        _consumed += n;
        return n;
    }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
}
