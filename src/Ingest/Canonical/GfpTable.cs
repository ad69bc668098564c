using System.Collections.Frozen;

namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// The gfp flag table of one kernel: names with their kernel masks in print order, exactly the shape of the
/// <c>__print_flags</c> table in <c>mm_page_alloc</c>'s print fmt. Converts printed names and raw kernel values to
/// the canonical <see cref="Gfp"/> layout: a kernel bit maps to the canonical bit of the single <c>__GFP_*</c>
/// name the table gives it; a composite name maps to the union of the single flags inside its mask.
/// </summary>
public sealed class GfpTable
{
    public string Source { get; }
    public IReadOnlyList<(string Name, ulong Mask)> Entries { get; }
    readonly ulong[] _kernelBitToCanonical = new ulong[64];
    readonly FrozenDictionary<string, ulong> _nameToCanonical;

    public GfpTable(string source, IReadOnlyList<(string Name, ulong Mask)> entries)
    {
        Source = source;
        Entries = entries;
        foreach (var (name, mask) in entries)
        {
            if (mask != 0 && (mask & (mask - 1)) == 0 && GfpNames.TrySingle(name, out var flag))
                _kernelBitToCanonical[System.Numerics.BitOperations.TrailingZeroCount(mask)] = (ulong)flag;
        }
        var map = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var (name, mask) in entries) map.TryAdd(name, FromKernelValue(mask));
        // Single names the table lacks still decode (a vendor kernel may print a flag its table does not list).
        foreach (var (name, flag) in GfpNames.Single) map.TryAdd(name, (ulong)flag);
        _nameToCanonical = map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Converts a raw kernel gfp value; bits no single name covers set <see cref="Gfp.UnknownBits"/>.</summary>
    public ulong FromKernelValue(ulong kernel)
    {
        ulong canonical = 0;
        while (kernel != 0)
        {
            int bit = System.Numerics.BitOperations.TrailingZeroCount(kernel);
            ulong c = _kernelBitToCanonical[bit];
            canonical |= c != 0 ? c : (ulong)Gfp.UnknownBits;
            kernel &= kernel - 1;
        }
        return canonical;
    }

    /// <summary>
    /// Renders a canonical value the way the kernel prints it with this table (<c>show_gfp_flags()</c> →
    /// <c>trace_print_flags_seq()</c>): entries in table order, each printed when all its bits are set and then
    /// cleared — so composites such as <c>GFP_HIGHUSER_MOVABLE</c> come before the single flags — and what no entry
    /// covers as <c>0x…</c>; <c>none</c> for 0. Bits this table cannot express in canonical terms stay in the remainder.
    /// A table read from a format file's <c>__print_flags</c> has the kernel's own order, so the text is the kernel's
    /// (checked on 6.1, 6.12 and 6.18 recordings); the built-in era tables list single flags in bit order.
    /// </summary>
    public string FormatKernelStyle(ulong canonical)
    {
        if (canonical == 0) return "none";
        var sb = new System.Text.StringBuilder();
        ulong left = canonical;
        foreach (var (name, mask) in Entries)
        {
            ulong c = FromKernelValue(mask);
            if (c == 0 || (c & (ulong)Gfp.UnknownBits) != 0 || (left & c) != c) continue;
            if (sb.Length > 0) sb.Append('|');
            sb.Append(name);
            left &= ~c;
        }
        if (left != 0) { if (sb.Length > 0) sb.Append('|'); sb.Append("0x").Append(left.ToString("x", System.Globalization.CultureInfo.InvariantCulture)); }
        return sb.ToString();
    }

    public bool TryName(ReadOnlySpan<char> name, out ulong canonical) =>
        _nameToCanonical.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out canonical);

    /// <summary>
    /// Decodes printed gfp text: <c>none</c>, a bare <c>0x…</c> value (tables the tools could not evaluate, 6.10–6.13),
    /// or names joined by <c>|</c> with an optional <c>|0x…</c> remainder. Returns false on a name no table knows.
    /// </summary>
    public bool TryDecodeText(ReadOnlySpan<byte> text, out ulong canonical)
    {
        canonical = 0;
        if (text.SequenceEqual("none"u8) || text.IsEmpty) return true;
        Span<char> buf = stackalloc char[64];
        bool ok = true;
        while (!text.IsEmpty)
        {
            int bar = text.IndexOf((byte)'|');
            var part = bar < 0 ? text : text[..bar];
            text = bar < 0 ? default : text[(bar + 1)..];
            if (part.Length > 2 && part[0] == '0' && (part[1] | 0x20) == 'x')
            {
                if (!Text.SpanNumber.TryParseHex(part[2..], out ulong raw)) { ok = false; continue; }
                canonical |= FromKernelValue(raw);
                continue;
            }
            if (part.Length > buf.Length) { ok = false; continue; }
            int n = 0;
            foreach (byte b in part) buf[n++] = (char)b;
            if (TryName(buf[..n], out ulong v)) canonical |= v;
            else ok = false;
        }
        return ok;
    }
}
