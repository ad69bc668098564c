using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Buffers.Binary;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Decodes the column chunks <see cref="ParquetFileWriter"/> writes — one zstd-compressed v1 data page per chunk,
/// definition levels as an RLE/bit-packed hybrid of width 1, PLAIN values (DELTA_BINARY_PACKED for <c>ts_ns</c>) —
/// without Parquet.Net's general machinery, which spent most of a read turning every string cell into a new string.
/// Anything else in a page (another encoding, a dictionary page) is refused and the caller falls back to Parquet.Net.
/// </summary>
static class OwnPageDecoder
{
    /// <summary>What the page header says.</summary>
    public readonly record struct PageHeader(int Type, int Uncompressed, int Compressed, int NumValues, int Encoding, int HeaderLength);

    /// <summary>Thrift compact PageHeader: fields 1 (type), 2, 3 (sizes), 5 (DataPageHeader: 1 num_values, 2 encoding).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> s, out PageHeader h)
    {
        h = default;
        int pos = 0, type = -1, unc = -1, comp = -1, num = -1, enc = -1;
        short last = 0;
        while (true)
        {
            if (pos >= s.Length) return false;
            byte b = s[pos++];
            if (b == 0) break;
            int t = b & 0x0F;
            short id = (b >> 4) != 0 ? (short)(last + (b >> 4)) : (short)Zigzag32(Varint(s, ref pos));
            last = id;
            if (t == 5 && id is 1 or 2 or 3) { int v = Zigzag32(Varint(s, ref pos)); if (id == 1) type = v; else if (id == 2) unc = v; else comp = v; continue; }
            if (t == 12 && id == 5)
            {
                short last2 = 0;
                while (true)
                {
                    if (pos >= s.Length) return false;
                    byte b2 = s[pos++];
                    if (b2 == 0) break;
                    int t2 = b2 & 0x0F;
                    short id2 = (b2 >> 4) != 0 ? (short)(last2 + (b2 >> 4)) : (short)Zigzag32(Varint(s, ref pos));
                    last2 = id2;
                    if (t2 == 5 && id2 is 1 or 2) { int v = Zigzag32(Varint(s, ref pos)); if (id2 == 1) num = v; else enc = v; continue; }
                    if (!Skip(s, ref pos, t2)) return false;
                }
                continue;
            }
            if (!Skip(s, ref pos, t)) return false;
        }
        if (type < 0 || unc < 0 || comp < 0) return false;
        h = new PageHeader(type, unc, comp, num, enc, pos);
        return true;
    }

    static ulong Varint(ReadOnlySpan<byte> s, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; pos < s.Length && shift < 64; shift += 7)
        {
            byte b = s[pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        return v;
    }

    static int Zigzag32(ulong v) => (int)((uint)v >> 1) ^ -(int)(v & 1);
    static long Zigzag64(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    /// <summary>Skips a Thrift compact value of <paramref name="type"/>.</summary>
    static bool Skip(ReadOnlySpan<byte> s, ref int pos, int type)
    {
        switch (type)
        {
            case 1: case 2: return true;                         // bool true/false in the header
            case 3: pos++; return pos <= s.Length;                // byte
            case 4: case 5: case 6: Varint(s, ref pos); return pos <= s.Length; // i16/i32/i64
            case 7: pos += 8; return pos <= s.Length;             // double
            case 8: { int len = (int)Varint(s, ref pos); pos += len; return len >= 0 && pos <= s.Length; }
            case 9: case 10:
            {
                if (pos >= s.Length) return false;
                byte h = s[pos++];
                int count = h >> 4, et = h & 0x0F;
                if (count == 15) count = (int)Varint(s, ref pos);
                for (int i = 0; i < count; i++) if (!Skip(s, ref pos, et)) return false;
                return true;
            }
            case 12:
            {
                while (true)
                {
                    if (pos >= s.Length) return false;
                    byte b = s[pos++];
                    if (b == 0) return true;
                    if ((b >> 4) == 0) Varint(s, ref pos);
                    if (!Skip(s, ref pos, b & 0x0F)) return false;
                }
            }
            default: return false;
        }
    }

    /// <summary>Definition levels (width 1) into <paramref name="present"/>; returns the bytes consumed (4-byte length + runs).</summary>
    public static int DecodeDefinitionLevels(ReadOnlySpan<byte> page, int rows, Span<bool> present) =>
        DecodeDefinitionLevels(page, rows, present, out _);

    /// <summary>As above; <paramref name="presentCount"/> is how many cells are non-null (all or none lets the caller
    /// copy values without a test per row).</summary>
    public static int DecodeDefinitionLevels(ReadOnlySpan<byte> page, int rows, Span<bool> present, out int presentCount)
    {
        if (page.Length < 4) throw new InvalidDataException("definition levels: page too short");
        int len = BinaryPrimitives.ReadInt32LittleEndian(page);
        if (len < 0 || len > page.Length - 4) throw new InvalidDataException("definition levels: bad length");
        var s = page.Slice(4, len);
        if (present.Length < rows) throw new ArgumentException("present shorter than rows", nameof(present));
        ref byte bytes = ref Unsafe.As<bool, byte>(ref MemoryMarshal.GetReference(present));
        int pos = 0, row = 0, count = 0;
        while (row < rows && pos < s.Length)
        {
            ulong header = Varint(s, ref pos);
            if ((header & 1) == 1)
            {
                int groups = (int)(header >> 1);
                for (int g = 0; g < groups && pos < s.Length; g++)
                {
                    byte b = s[pos++];
                    count += BitOperations.PopCount((uint)(rows - row >= 8 ? b : b & ((1 << (rows - row)) - 1)));
                    if (rows - row >= 8)
                    {
                        // Eight cells at once: each bit of b becomes a bool byte (0 or 1).
                        Unsafe.WriteUnaligned(ref Unsafe.Add(ref bytes, row), BitsToBools[b]);
                        row += 8;
                    }
                    else for (int k = 0; k < 8 && row < rows; k++) present[row++] = ((b >> k) & 1) != 0;
                }
            }
            else
            {
                int runLength = (int)(header >> 1);
                if (pos >= s.Length) break;
                bool v = (s[pos++] & 1) != 0;
                int take = Math.Min(runLength, rows - row);
                if (take < 0) throw new InvalidDataException("definition levels: bad run length");
                present.Slice(row, take).Fill(v);
                row += take;
                if (v) count += take;
            }
        }
        if (row < rows) throw new InvalidDataException("definition levels: fewer than the rows");
        presentCount = count;
        return 4 + len;
    }

    // BitsToBools[b]: the eight bits of b, lowest first, as eight bytes of 0 or 1 (little-endian ulong).
    static readonly ulong[] BitsToBools = BuildBitsToBools();

    static ulong[] BuildBitsToBools()
    {
        var t = new ulong[256];
        for (int b = 0; b < 256; b++)
            for (int k = 0; k < 8; k++)
                if ((b >> k & 1) != 0) t[b] |= 1UL << (8 * k);
        return t;
    }

    /// <summary>DELTA_BINARY_PACKED int64 values.</summary>
    public static void DecodeDeltaInt64(ReadOnlySpan<byte> s, Span<long> dest)
    {
        int pos = 0;
        int blockSize = (int)Varint(s, ref pos), miniblocks = (int)Varint(s, ref pos), total = (int)Varint(s, ref pos);
        long value = Zigzag64(Varint(s, ref pos));
        if (total != dest.Length || blockSize <= 0 || miniblocks <= 0 || blockSize % miniblocks != 0) throw new InvalidDataException("delta: bad header");
        int perMini = blockSize / miniblocks;
        int n = 0;
        if (total > 0) dest[n++] = value;
        Span<byte> widths = stackalloc byte[Math.Min(miniblocks, 256)];
        if (miniblocks > 256) throw new InvalidDataException("delta: too many miniblocks");
        while (n < total)
        {
            long minDelta = Zigzag64(Varint(s, ref pos));
            if (pos + miniblocks > s.Length) throw new InvalidDataException("delta: truncated");
            s.Slice(pos, miniblocks).CopyTo(widths);
            pos += miniblocks;
            for (int m = 0; m < miniblocks && n < total; m++)
            {
                int w = widths[m];
                if (w > 64) throw new InvalidDataException("delta: bit width");
                int bytes = perMini * w / 8;
                if (pos + bytes > s.Length) throw new InvalidDataException("delta: truncated miniblock");
                var mb = s.Slice(pos, bytes);
                pos += bytes;
                for (int k = 0; k < perMini && n < total; k++)
                {
                    ulong d = ReadBits(mb, k * w, w);
                    value += minDelta + (long)d;
                    dest[n++] = value;
                }
            }
        }
    }

    static ulong ReadBits(ReadOnlySpan<byte> s, int bitOffset, int width)
    {
        if (width == 0) return 0;
        ulong v = 0;
        int got = 0;
        int byteIndex = bitOffset >> 3, shift = bitOffset & 7;
        while (got < width)
        {
            int take = Math.Min(8 - shift, width - got);
            ulong bits = (ulong)((s[byteIndex] >> shift) & ((1 << take) - 1));
            v |= bits << got;
            got += take;
            byteIndex++;
            shift = 0;
        }
        return v;
    }
}
