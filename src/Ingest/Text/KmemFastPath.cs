using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Positional decoder for the kmem events exactly as kernels since v5.14 print them (include/trace/events/kmem.h):
/// <c>page=%p pfn=0x%lx order=%d[ migratetype=%d[ gfp_flags=%s | percpu_refill=%d]]</c>. It handles the common case
/// in one left-to-right pass; anything else (older layouts, trace-cmd renderings, extra vendor fields, failed
/// allocations) returns false and goes through the key/value decoder, which stays the reference.
/// </summary>
static class KmemFastPath
{
    public static bool TryDecode(EventKind kind, ReadOnlySpan<byte> text, GfpTextDecoder gfp, ref TraceEvent e)
    {
        if (!text.StartsWith("page="u8)) return false;
        int i = 5;
        // %p of a page: 16 hex digits of a hashed pointer.
        if (text.Length > 21 && text[21] == ' ') i = 21;
        else
        {
            int sp = text[i..].IndexOf((byte)' ');
            if (sp < 0) return false;
            i += sp;
        }
        if (!text[i..].StartsWith(" pfn=0x"u8)) return false;
        i += 7;
        if (!Hex(text, ref i, out ulong pfn) || pfn == 0 || pfn == ulong.MaxValue) return false;
        if (!text[i..].StartsWith(" order="u8)) return false;
        i += 7;
        if (!Dec(text, ref i, out uint order) || order > 63) return false;
        if (kind == EventKind.MmPageFreeBatched)
        {
            // Prints a literal "order=0": the event has no order field.
            if (i != text.Length) return false;
            e.Pfn = pfn; e.Fields |= EventFields.Pfn;
            return true;
        }
        if (i == text.Length)
        {
            if (kind != EventKind.MmPageFree) return false;
            e.Pfn = pfn; e.Order = (byte)order; e.Fields |= EventFields.Pfn | EventFields.Order;
            return true;
        }
        if (kind == EventKind.MmPageFree || !text[i..].StartsWith(" migratetype="u8)) return false;
        i += 13;
        bool neg = i < text.Length && text[i] == '-';
        if (neg) i++;
        if (!Dec(text, ref i, out uint mt) || mt > 127) return false;
        sbyte migratetype = neg ? (sbyte)-(int)mt : (sbyte)mt;
        ulong gfpValue = 0; byte refill = 0;
        EventFields extra = 0;
        switch (kind)
        {
            case EventKind.MmPagePcpuDrain:
                if (i != text.Length) return false;
                break;
            case EventKind.MmPageAlloc:
                if (!text[i..].StartsWith(" gfp_flags="u8)) return false;
                // gfp_flags is the last field: its value is the rest of the line.
                if (!gfp.TryDecode(text[(i + 11)..], out gfpValue)) return false;
                extra = EventFields.Gfp;
                break;
            case EventKind.MmPageAllocZoneLocked:
                if (!text[i..].StartsWith(" percpu_refill="u8)) return false;
                i += 15;
                if (!Dec(text, ref i, out uint r) || i != text.Length) return false;
                refill = r != 0 ? (byte)1 : (byte)0;
                extra = EventFields.PercpuRefill;
                break;
            default:
                return false;
        }
        e.Pfn = pfn; e.Order = (byte)order; e.Migratetype = migratetype; e.Gfp = gfpValue; e.PercpuRefill = refill;
        e.Fields |= EventFields.Pfn | EventFields.Order | EventFields.Migratetype | extra;
        return true;
    }

    /// <summary>Hex digit values, 0xFF for anything else: one load per digit instead of two range tests.</summary>
    static ReadOnlySpan<byte> HexValue =>
    [
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 0,1,2,3,4,5,6,7,8,9,255,255,255,255,255,255,
        255,10,11,12,13,14,15,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,10,11,12,13,14,15,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
        255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255, 255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    ];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool Hex(ReadOnlySpan<byte> s, ref int i, out ulong v)
    {
        v = 0;
        int start = i;
        var table = HexValue;
        while (i < s.Length)
        {
            uint d = table[s[i]];
            if (d > 15) break;
            v = (v << 4) | d;
            i++;
        }
        int n = i - start;
        return n > 0 && n <= 16 && (i == s.Length || s[i] == ' ');
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool Dec(ReadOnlySpan<byte> s, ref int i, out uint v)
    {
        v = 0;
        int start = i;
        while (i < s.Length && (uint)(s[i] - '0') <= 9 && i - start < 9) { v = v * 10 + (uint)(s[i] - '0'); i++; }
        return i > start && (i == s.Length || s[i] == ' ');
    }
}
