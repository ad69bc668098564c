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
        // Keys and most values are a few bytes, where a vectorised IndexOf costs more in set-up than it saves
        // (measured: IndexOf was 22% of decode time); long values (gfp names, hashed page pointers) are finished
        // with one vectorised search.
        var r = _rest;
        int i = 0;
        while (i < r.Length && r[i] == ' ') i++;
        if (i == r.Length) { _rest = default; return false; }
        int start = i, eq = -1;
        while (i < r.Length)
        {
            byte c = r[i];
            if (c == ' ') break;
            if (c == '=') { eq = i; i++; break; }
            i++;
        }
        if (eq >= 0)
        {
            int shortEnd = Math.Min(r.Length, i + 8);
            while (i < shortEnd && r[i] != ' ') i++;
            if (i == shortEnd && i < r.Length)
            {
                int sp = r[i..].IndexOf((byte)' ');
                i = sp < 0 ? r.Length : i + sp;
            }
            Key = r[start..eq]; Value = r[(eq + 1)..i];
        }
        else { Key = default; Value = r[start..i]; }
        _rest = i < r.Length ? r[(i + 1)..] : default;
        return true;
    }

    /// <summary>The unread remainder, for values that contain blanks.</summary>
    public readonly ReadOnlySpan<byte> Rest => _rest;
}
