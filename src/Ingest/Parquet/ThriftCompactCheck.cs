namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// Walks a Thrift compact-protocol struct (a Parquet footer) without decoding it, and says where it is malformed.
/// Parquet.Net's footer reader trusts list sizes and reads past the end of its buffer as if bytes kept coming, so a
/// hostile list count of 2^31 keeps it busy for minutes (found by afl++). Every count checked here is bounded by the
/// bytes left: each list element, map entry and struct takes at least one byte in the compact encoding.
/// The encoding follows the Thrift compact protocol specification (thrift/doc/specs/thrift-compact-protocol.md).
/// </summary>
static class ThriftCompactCheck
{
    const int MaxDepth = 64;

    /// <summary>null when <paramref name="bytes"/> is one well-formed struct; else the offset and what is wrong.</summary>
    public static (int Offset, string Problem)? Check(ReadOnlySpan<byte> bytes)
    {
        int pos = 0;
        try
        {
            Struct(bytes, ref pos, 0);
            return null;
        }
        catch (Malformed m)
        {
            return (Math.Min(pos, bytes.Length), m.Message);
        }
    }

    sealed class Malformed(string message) : Exception(message);

    static void Struct(ReadOnlySpan<byte> b, ref int pos, int depth)
    {
        if (depth > MaxDepth) throw new Malformed($"structs nested deeper than {MaxDepth}");
        while (true)
        {
            byte header = Byte(b, ref pos);
            if (header == 0) return;
            if (header >> 4 == 0) VarInt(b, ref pos); // a field id that is not a small delta
            Value(b, ref pos, header & 0x0f, depth, inCollection: false);
        }
    }

    static void Value(ReadOnlySpan<byte> b, ref int pos, int type, int depth, bool inCollection)
    {
        switch (type)
        {
            case 1 or 2: if (inCollection) Byte(b, ref pos); return; // a field's bool is in its header
            case 3: Byte(b, ref pos); return;
            case 4 or 5 or 6: VarInt(b, ref pos); return;
            case 7: Skip(b, ref pos, 8); return;
            case 8: Skip(b, ref pos, Length(b, ref pos, "binary length")); return;
            case 9 or 10: List(b, ref pos, depth); return;
            case 11: Map(b, ref pos, depth); return;
            case 12: Struct(b, ref pos, depth + 1); return;
            case 13: Skip(b, ref pos, 16); return; // uuid
            default: throw new Malformed($"unknown compact type {type}");
        }
    }

    static void List(ReadOnlySpan<byte> b, ref int pos, int depth)
    {
        byte header = Byte(b, ref pos);
        int count = header >> 4 == 15 ? Length(b, ref pos, "list size") : header >> 4;
        if (count > b.Length - pos) throw new Malformed($"list of {count} elements in {b.Length - pos} bytes");
        for (int i = 0; i < count; i++) Value(b, ref pos, header & 0x0f, depth + 1, inCollection: true);
    }

    static void Map(ReadOnlySpan<byte> b, ref int pos, int depth)
    {
        int count = Length(b, ref pos, "map size");
        if (count == 0) return;
        byte types = Byte(b, ref pos);
        if (count > b.Length - pos) throw new Malformed($"map of {count} entries in {b.Length - pos} bytes");
        for (int i = 0; i < count; i++)
        {
            Value(b, ref pos, types >> 4, depth + 1, inCollection: true);
            Value(b, ref pos, types & 0x0f, depth + 1, inCollection: true);
        }
    }

    static int Length(ReadOnlySpan<byte> b, ref int pos, string what)
    {
        ulong n = VarInt(b, ref pos);
        if (n > (ulong)(b.Length - pos)) throw new Malformed($"{what} {n} exceeds the {b.Length - pos} bytes left");
        return (int)n;
    }

    static ulong VarInt(ReadOnlySpan<byte> b, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            byte x = Byte(b, ref pos);
            v |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return v;
        }
        throw new Malformed("varint longer than 10 bytes");
    }

    static byte Byte(ReadOnlySpan<byte> b, ref int pos) =>
        pos < b.Length ? b[pos++] : throw new Malformed("ends inside a value");

    static void Skip(ReadOnlySpan<byte> b, ref int pos, int n)
    {
        if (n > b.Length - pos) throw new Malformed("ends inside a value");
        pos += n;
    }
}
