using System.Runtime.CompilerServices;

namespace AsiTrace.Ingest.Text;

/// <summary>Integer parsing on UTF-8 spans: no culture, no allocation, overflow-checked.</summary>
public static class SpanNumber
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParseDec(ReadOnlySpan<byte> s, out ulong v)
    {
        v = 0;
        if (s.IsEmpty || s.Length > 20) return false;
        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9) return false;
            ulong nv = v * 10 + d;
            if (nv < v) return false;
            v = nv;
        }
        return true;
    }

    public static bool TryParseSignedDec(ReadOnlySpan<byte> s, out long v)
    {
        bool neg = !s.IsEmpty && s[0] == '-';
        if (!TryParseDec(neg ? s[1..] : s, out ulong u) || u > long.MaxValue) { v = 0; return false; }
        v = neg ? -(long)u : (long)u;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParseHex(ReadOnlySpan<byte> s, out ulong v)
    {
        v = 0;
        if (s.IsEmpty || s.Length > 16) return false;
        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9)
            {
                d = (uint)((b | 0x20) - 'a');
                if (d > 5) return false;
                d += 10;
            }
            v = (v << 4) | d;
        }
        return true;
    }

    /// <summary>Parses <c>0x…</c> as hex, anything else as signed decimal (two's complement into ulong).</summary>
    public static bool TryParseAuto(ReadOnlySpan<byte> s, out ulong v)
    {
        if (s.Length > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') return TryParseHex(s[2..], out v);
        if (TryParseSignedDec(s, out long l)) { v = (ulong)l; return true; }
        return TryParseDec(s, out v);
    }

    /// <summary>
    /// Parses a trace timestamp to integer ns: <c>sec.usec</c> (6 digits), <c>sec.nsec</c> (9 digits), any other
    /// fraction length scaled, or a plain integer (counter/TSC clocks: returned as is, <paramref name="isNs"/> false).
    /// Never goes through floating point.
    /// </summary>
    public static bool TryParseTimestamp(ReadOnlySpan<byte> s, out long ns, out bool isNs)
    {
        ns = 0; isNs = true;
        int dot = s.IndexOf((byte)'.');
        if (dot < 0)
        {
            isNs = false;
            if (!TryParseDec(s, out ulong raw) || raw > long.MaxValue) return false;
            ns = (long)raw;
            return true;
        }
        var frac = s[(dot + 1)..];
        if (frac.IsEmpty || frac.Length > 9) return false;
        if (!TryParseDec(s[..dot], out ulong sec) || sec > 9_000_000_000UL) return false;
        if (!TryParseDec(frac, out ulong f)) return false;
        for (int i = frac.Length; i < 9; i++) f *= 10;
        ns = (long)(sec * 1_000_000_000UL + f);
        return true;
    }
}
