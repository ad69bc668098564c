using System.Buffers;
using System.Text;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// The Thrift compact protocol, write side only, as Parquet uses it for page headers and the file footer
/// (thrift/doc/specs/thrift-compact-protocol.md): field headers carry the id delta and type in one byte, integers are
/// zigzag varints, structs end with a 0 byte.
/// </summary>
sealed class ThriftCompactWriter(IBufferWriter<byte> output)
{
    public const byte TypeTrue = 1, TypeFalse = 2, TypeI8 = 3, TypeI16 = 4, TypeI32 = 5, TypeI64 = 6, TypeBinary = 8, TypeList = 9, TypeStruct = 12;
    readonly Stack<short> _lastIds = new();
    short _lastId;

    public void StructBegin() { _lastIds.Push(_lastId); _lastId = 0; }
    public void StructEnd() { Byte(0); _lastId = _lastIds.Pop(); }

    void FieldHeader(short id, byte type)
    {
        int delta = id - _lastId;
        if (delta is > 0 and <= 15) Byte((byte)((delta << 4) | type));
        else { Byte(type); Varint(ZigZag(id)); }
        _lastId = id;
    }

    public void I32(short id, int v) { FieldHeader(id, TypeI32); Varint(ZigZag(v)); }
    public void I64(short id, long v) { FieldHeader(id, TypeI64); Varint(ZigZag(v)); }
    public void I8Field(short id, sbyte v) { FieldHeader(id, TypeI8); Byte((byte)v); }
    public void Bool(short id, bool v) => FieldHeader(id, v ? TypeTrue : TypeFalse);
    public void String(short id, string s) { FieldHeader(id, TypeBinary); BinaryValue(Encoding.UTF8.GetBytes(s)); }
    public void StructField(short id) { FieldHeader(id, TypeStruct); StructBegin(); }
    public void ListField(short id, byte elementType, int count)
    {
        FieldHeader(id, TypeList);
        if (count < 15) Byte((byte)((count << 4) | elementType));
        else { Byte((byte)(0xF0 | elementType)); Varint((ulong)count); }
    }

    // List elements have no field header.
    public void I32Value(int v) => Varint(ZigZag(v));
    public void StringValue(string s) => BinaryValue(Encoding.UTF8.GetBytes(s));
    public void BinaryField(short id, ReadOnlySpan<byte> b) { FieldHeader(id, TypeBinary); BinaryValue(b); }

    void BinaryValue(ReadOnlySpan<byte> b)
    {
        Varint((ulong)b.Length);
        b.CopyTo(output.GetSpan(b.Length));
        output.Advance(b.Length);
    }

    static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    void Varint(ulong v)
    {
        var span = output.GetSpan(10);
        int n = 0;
        while (v >= 0x80) { span[n++] = (byte)(v | 0x80); v >>= 7; }
        span[n++] = (byte)v;
        output.Advance(n);
    }

    void Byte(byte b) { output.GetSpan(1)[0] = b; output.Advance(1); }
}
