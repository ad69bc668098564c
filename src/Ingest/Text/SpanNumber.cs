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
            // v * 10 + d wraps without ever looking smaller than v (30000000000000000000 did): check before multiplying.
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
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
        // One scalar pass: seconds, '.', fraction (a timestamp token is ~12 bytes).
        ulong sec = 0;
        int i = 0;
        while (i < s.Length && (uint)(s[i] - '0') <= 9)
        {
            if (i >= 20) return false;
            ulong nv = sec * 10 + (uint)(s[i] - '0');
            if (nv < sec) return false;
            sec = nv;
            i++;
        }
        if (i == 0) return false;
        if (i == s.Length)
        {
            isNs = false;
            if (sec > long.MaxValue) return false;
            ns = (long)sec;
            return true;
        }
        if (s[i] != '.' || sec > 9_000_000_000UL) return false;
        int fracStart = ++i;
        ulong f = 0;
        while (i < s.Length && (uint)(s[i] - '0') <= 9) { f = f * 10 + (uint)(s[i] - '0'); i++; if (i - fracStart > 9) return false; }
        int fracLen = i - fracStart;
        if (i != s.Length || fracLen == 0) return false;
        for (int k = fracLen; k < 9; k++) f *= 10;
        ns = (long)(sec * 1_000_000_000UL + f);
        return true;
    }
}
