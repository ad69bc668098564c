using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Decodes printed gfp text through a <see cref="GfpTable"/>, caching each distinct string (a trace has a few
/// hundred at most), so the per-event cost is one hash lookup and no allocation.
/// </summary>
public sealed class GfpTextDecoder(GfpTable table)
{
    const int MaxCached = 4096;
    readonly ByteStringTable _seen = new();
    ulong[] _values = new ulong[64];
    bool[] _ok = new bool[64];
    public GfpTable Table => table;

    readonly byte[] _last = new byte[256];
    int _lastLen = -1, _lastId;

    public bool TryDecode(ReadOnlySpan<byte> text, out ulong canonical)
    {
        // Runs of the same allocation site repeat the same text: compare with the last one before hashing.
        if (text.Length == _lastLen && text.SequenceEqual(_last.AsSpan(0, _lastLen)))
        {
            canonical = _values[_lastId];
            return _ok[_lastId];
        }
        if (_seen.Count >= MaxCached) return table.TryDecodeText(text, out canonical);
        int before = _seen.Count;
        int id = _seen.Intern(text);
        if (id >= before)
        {
            if (id >= _values.Length) { Array.Resize(ref _values, _values.Length * 2); Array.Resize(ref _ok, _ok.Length * 2); }
            _ok[id] = table.TryDecodeText(text, out _values[id]);
        }
        if (text.Length <= _last.Length) { text.CopyTo(_last); _lastLen = text.Length; _lastId = id; }
        canonical = _values[id];
        return _ok[id];
    }
}
