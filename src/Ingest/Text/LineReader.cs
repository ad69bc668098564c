using System.Buffers;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Yields lines of a byte stream as spans over one pooled buffer (no per-line allocation), tracking line
/// number and byte offset for diagnostics. A line longer than the buffer is reported and skipped whole.
/// </summary>
public sealed class LineReader : IDisposable
{
    readonly Stream _stream;
    byte[] _buf;
    int _start, _end;
    bool _eof;
    public long LineNumber { get; private set; }
    /// <summary>Byte offset (in the decompressed stream) of the line last returned.</summary>
    public long LineOffset { get; private set; }
    long _bufferBase; // stream offset of _buf[0]
    public bool LastLineHadNoNewline { get; private set; }
    public long OverlongLines { get; private set; }
    public const int MaxLine = 1 << 20;

    public LineReader(Stream stream, int bufferSize = 1 << 20)
    {
        _stream = stream;
        _buf = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, 4096));
    }

    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int nl = _buf.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int s = _start;
                _start += nl + 1;
                LineNumber++;
                LineOffset = _bufferBase + s;
                int len = nl;
                if (len > 0 && _buf[s + len - 1] == '\r') len--;
                line = _buf.AsSpan(s, len);
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    int s = _start;
                    _start = _end;
                    LineNumber++;
                    LineOffset = _bufferBase + s;
                    LastLineHadNoNewline = true;
                    line = _buf.AsSpan(s, _end - s);
                    return true;
                }
                line = default;
                return false;
            }
            Fill();
        }
    }

    void Fill()
    {
        if (_start > 0)
        {
            int rem = _end - _start;
            Buffer.BlockCopy(_buf, _start, _buf, 0, rem);
            _bufferBase += _start;
            _start = 0; _end = rem;
        }
        if (_end == _buf.Length)
        {
            // A line longer than the whole buffer: skip to its end and count it.
            OverlongLines++;
            LineNumber++;
            _bufferBase += _end;
            _start = _end = 0;
            while (true)
            {
                int n = _stream.Read(_buf, 0, _buf.Length);
                if (n == 0) { _eof = true; return; }
                int nl = _buf.AsSpan(0, n).IndexOf((byte)'\n');
                if (nl >= 0) { _start = nl + 1; _end = n; return; }
                _bufferBase += n;
            }
        }
        int read = _stream.Read(_buf, _end, _buf.Length - _end);
        if (read == 0) _eof = true;
        _end += read;
    }

    public void Dispose()
    {
        if (_buf.Length > 0) ArrayPool<byte>.Shared.Return(_buf);
        _buf = [];
    }
}
