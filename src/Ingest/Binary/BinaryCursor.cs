using System.Buffers.Binary;
using System.Text;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// Bounds-checked reads from a span of an untrusted file, in the file's byte order. Every failure names the file,
/// the absolute byte offset and what was being read (exit code 3); nothing is trusted before it is checked.
/// </summary>
public ref struct BinaryCursor
{
    readonly ReadOnlySpan<byte> _data;
    readonly long _base;
    readonly string _file;
    public readonly bool BigEndian;
    int _pos;

    public BinaryCursor(ReadOnlySpan<byte> data, long baseOffset, string file, bool bigEndian)
    {
        _data = data; _base = baseOffset; _file = file; BigEndian = bigEndian; _pos = 0;
    }

    public int Position { readonly get => _pos; set => _pos = value >= 0 && value <= _data.Length ? value : throw Fail("position", value - _data.Length); }
    public readonly long FileOffset => _base + _pos;
    public readonly int Remaining => _data.Length - _pos;
    public readonly bool AtEnd => _pos >= _data.Length;
    public readonly ReadOnlySpan<byte> Rest => _data[_pos..];

    public byte U8(string what) { Need(1, what); return _data[_pos++]; }

    public ushort U16(string what)
    {
        Need(2, what);
        var s = _data.Slice(_pos, 2); _pos += 2;
        return BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);
    }

    public uint U32(string what)
    {
        Need(4, what);
        var s = _data.Slice(_pos, 4); _pos += 4;
        return BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
    }

    public ulong U64(string what)
    {
        Need(8, what);
        var s = _data.Slice(_pos, 8); _pos += 8;
        return BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
    }

    /// <summary>A size field: must fit in what is left of this span and under <paramref name="max"/>.</summary>
    public int Size(ulong value, string what, long max = int.MaxValue)
    {
        if (value > (ulong)Math.Min(max, Remaining))
            throw new InvalidTraceException(_file, $"byte {FileOffset}", $"{what} is {value} bytes but {(value > (ulong)max ? $"the limit is {max}" : $"only {Remaining} remain")}");
        return (int)value;
    }

    public ReadOnlySpan<byte> Bytes(int n, string what)
    {
        Need(n, what);
        var s = _data.Slice(_pos, n); _pos += n;
        return s;
    }

    public void Skip(long n, string what)
    {
        if (n < 0 || n > Remaining) throw Fail(what, n);
        _pos += (int)n;
    }

    /// <summary>A NUL-terminated string of at most <paramref name="max"/> bytes.</summary>
    public string CString(string what, int max = 4096)
    {
        var rest = _data[_pos..];
        int nul = rest[..Math.Min(rest.Length, max + 1)].IndexOf((byte)0);
        if (nul < 0)
            throw new InvalidTraceException(_file, $"byte {FileOffset}", $"{what}: no terminating NUL within {Math.Min(rest.Length, max + 1)} bytes");
        string s = Encoding.UTF8.GetString(rest[..nul]);
        _pos += nul + 1;
        return s;
    }

    /// <summary>Checks that the next bytes are <paramref name="expected"/> and consumes them.</summary>
    public void Expect(ReadOnlySpan<byte> expected, string what)
    {
        Need(expected.Length, what);
        if (!_data.Slice(_pos, expected.Length).SequenceEqual(expected))
            throw new InvalidTraceException(_file, $"byte {FileOffset}", $"expected {what}");
        _pos += expected.Length;
    }

    readonly void Need(int n, string what)
    {
        if (n < 0 || n > _data.Length - _pos) throw Fail(what, n);
    }

    readonly InvalidTraceException Fail(string what, long n) =>
        new(_file, $"byte {FileOffset}", $"{what}: {n} bytes needed but {(n < 0 ? "a negative size was given" : $"only {_data.Length - _pos} remain")} (truncated or corrupt file)");
}

/// <summary>Reads integers of a record in the traced machine's byte order.</summary>
public static class Endian
{
    public static ulong Read(ReadOnlySpan<byte> s, int offset, int size, bool signed, bool big)
    {
        if ((uint)offset > (uint)s.Length || size > s.Length - offset) return 0;
        var b = s.Slice(offset, size);
        switch (size)
        {
            case 1: return signed ? (ulong)(long)(sbyte)b[0] : b[0];
            case 2:
                ushort u16 = big ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);
                return signed ? (ulong)(long)(short)u16 : u16;
            case 4:
                uint u32 = big ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
                return signed ? (ulong)(long)(int)u32 : u32;
            case 8:
                return big ? BinaryPrimitives.ReadUInt64BigEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b);
            default: return 0;
        }
    }

    public static uint U32(ReadOnlySpan<byte> s, bool big) => big ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
    public static ulong U64(ReadOnlySpan<byte> s, bool big) => big ? BinaryPrimitives.ReadUInt64BigEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
}
