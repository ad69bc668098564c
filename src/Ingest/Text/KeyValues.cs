using System.Runtime.CompilerServices;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Walks <c>key=value</c> tokens of an event text in one pass. Values end at a blank; tokens without '='
/// (the <c>(decimal)</c> part of <c>fields=1</c> output, <c>dev</c>/<c>ino</c> words) are returned with an empty key.
/// </summary>
public ref struct KeyValues(ReadOnlySpan<byte> text)
{
    ReadOnlySpan<byte> _rest = text;
    public ReadOnlySpan<byte> Key;
    public ReadOnlySpan<byte> Value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Next()
    {
        var r = _rest.TrimStart((byte)' ');
        if (r.IsEmpty) return false;
        int sp = r.IndexOf((byte)' ');
        var tok = sp < 0 ? r : r[..sp];
        _rest = sp < 0 ? default : r[(sp + 1)..];
        int eq = tok.IndexOf((byte)'=');
        if (eq < 0) { Key = default; Value = tok; }
        else { Key = tok[..eq]; Value = tok[(eq + 1)..]; }
        return true;
    }

    /// <summary>The unread remainder, for values that contain blanks.</summary>
    public readonly ReadOnlySpan<byte> Rest => _rest;
}
