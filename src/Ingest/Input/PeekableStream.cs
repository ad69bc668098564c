namespace AsiTrace.Ingest.Input;

/// <summary>A read-only stream that replays a prefix already read from <paramref name="inner"/>, so format detection
/// can look at the start of stdin or a decompressor without seeking.</summary>
public sealed class PeekableStream(byte[] prefix, int prefixLength, Stream inner) : ForwardReadStream
{
    int _pos;
    long _consumed;
    public Stream Inner => inner;
    public override long Position { get => _consumed; set => throw new NotSupportedException(); }
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
    protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
}
