using System.Buffers;
using AsiTrace.Ingest.Input;

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

    readonly MappedFile? _map;
    long _mapPos, _dropped;
    /// <summary>Consumed bytes are released from the resident set in steps of this size (see MappedFile.DoneBefore).</summary>
    const long DropEvery = 32 << 20;

    public LineReader(Stream stream, int bufferSize = 1 << 20)
    {
        _stream = stream;
        _buf = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, 4096));
    }

    /// <summary>Lines straight from a mapped file: no buffer, no copy.</summary>
    public LineReader(MappedFile map)
    {
        _stream = Stream.Null;
        _buf = [];
        _map = map;
    }

    /// <summary>Bytes of the input consumed so far.</summary>
    public long Position => _map is not null ? _mapPos : _bufferBase + _start;

    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        if (_map is not null) return TryReadMappedLine(out line);
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

    bool TryReadMappedLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            long pos = _mapPos;
            if (pos >= _map!.Length) { line = default; return false; }
            if (pos - _dropped >= DropEvery) { _map.DoneBefore(pos); _dropped = pos; }
            var window = _map.SpanUpTo(pos, MaxLine + 1);
            int nl = window.IndexOf((byte)'\n');
            LineNumber++;
            LineOffset = pos;
            if (nl >= 0)
            {
                _mapPos = pos + nl + 1;
                int len = nl;
                if (len > 0 && window[len - 1] == '\r') len--;
                line = window[..len];
                return true;
            }
            if (window.Length <= MaxLine)
            {
                // Last line, no newline.
                _mapPos = _map.Length;
                LastLineHadNoNewline = true;
                line = window;
                return true;
            }
            // Longer than MaxLine: skip to its end and count it, like the buffered path.
            OverlongLines++;
            long p = pos + window.Length;
            while (true)
            {
                var more = _map.SpanUpTo(p, 1 << 20);
                if (more.IsEmpty) { _mapPos = _map.Length; break; }
                int k = more.IndexOf((byte)'\n');
                if (k >= 0) { _mapPos = p + k + 1; break; }
                p += more.Length;
            }
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
