using System.Buffers;
using System.Buffers.Binary;

namespace AsiTrace.Ingest.Parquet;

/// <summary>Physical and logical type of one flat column (parquet.thrift: Type, ConvertedType, LogicalType).</summary>
/// <summary>Min and max of an integer column chunk, signed and as unsigned bits.</summary>
readonly record struct ColumnStats(long Min, long Max, long UnsignedMin, long UnsignedMax);

sealed record ColumnSpec(string Name, ColumnSpec.Physical Type, bool Optional, int? Converted, int IntBits = 0, bool IntSigned = false, bool IsString = false)
{
    /// <summary>Value encoding: PLAIN (0) or DELTA_BINARY_PACKED (5, for sorted integers such as timestamps).</summary>
    public int Encoding { get; init; }
    public const int Plain = 0, DeltaBinaryPacked = 5;
    public enum Physical { Boolean = 0, Int32 = 1, Int64 = 2, ByteArray = 6 }
}

/// <summary>
/// A minimal Parquet writer for flat schemas: one v1 data page per column chunk, PLAIN values, definition levels as a
/// bit-packed RLE-hybrid run, each page zstd-compressed, and the footer in Thrift compact form. It exists because
/// Parquet.Net's general-purpose encoder was the bottleneck of <c>ingest</c> (~300 ns per row for our 23 columns,
/// BENCHMARKS.md); files read back with Parquet.Net and DuckDB (tests). Reading stays with Parquet.Net.
/// </summary>
sealed class ParquetFileWriter : IDisposable
{
    const int Plain = 0, Rle = 3, Zstd = 6;
    readonly Stream _out;
    readonly IReadOnlyList<ColumnSpec> _columns;
    readonly ZstdSharp.Compressor _zstd;
    readonly ArrayBufferWriter<byte> _page = new(1 << 20);
    readonly ArrayBufferWriter<byte> _header = new(256);
    byte[] _compressed = new byte[1 << 20];
    long _position;
    readonly List<RowGroupMeta> _rowGroups = new();
    RowGroupMeta? _current;
    long _rows;

    sealed record ChunkMeta(long Offset, long Uncompressed, long Compressed, int Values, ColumnStats? Stats, long Nulls);
    sealed class RowGroupMeta { public int Rows; public long Offset; public List<ChunkMeta> Chunks = new(); }

    public ParquetFileWriter(Stream output, IReadOnlyList<ColumnSpec> columns, int zstdLevel = 1)
    {
        _out = output;
        _columns = columns;
        _zstd = new ZstdSharp.Compressor(zstdLevel);
        _out.Write("PAR1"u8);
        _position = 4;
    }

    public void BeginRowGroup(int rows)
    {
        _current = new RowGroupMeta { Rows = rows, Offset = _position };
    }

    /// <summary>
    /// Writes the next column of the row group. <paramref name="defined"/> is the presence bitmap (bit i = row i
    /// present, LSB first) for an optional column; <paramref name="values"/> are the PLAIN-encoded present values.
    /// </summary>
    /// <param name="stats">min and max of an integer column's values, for the footer (so engines can skip row groups).</param>
    /// <param name="nulls">rows without a value.</param>
    public void WriteColumn(ReadOnlySpan<byte> defined, ReadOnlySpan<byte> values, ColumnStats? stats = null, long nulls = 0)
    {
        var rg = _current ?? throw new InvalidOperationException("no row group");
        var spec = _columns[rg.Chunks.Count];
        int rows = rg.Rows;
        _page.ResetWrittenCount();
        if (spec.Optional)
        {
            // Definition levels, bit width 1: one bit-packed run of ceil(rows / 8) groups, preceded by its byte length.
            int groups = (rows + 7) / 8;
            ulong runHeader = ((ulong)groups << 1) | 1;
            int headerLength = 1;
            for (ulong v = runHeader; v >= 0x80; v >>= 7) headerLength++;
            BinaryPrimitives.WriteInt32LittleEndian(_page.GetSpan(4), headerLength + groups);
            _page.Advance(4);
            WriteVarint(_page, runHeader);
            defined[..groups].CopyTo(_page.GetSpan(groups));
            _page.Advance(groups);
        }
        values.CopyTo(_page.GetSpan(values.Length));
        _page.Advance(values.Length);

        var raw = _page.WrittenSpan;
        int bound = ZstdSharp.Compressor.GetCompressBound(raw.Length);
        if (_compressed.Length < bound) _compressed = new byte[Math.Max(bound, _compressed.Length * 2)];
        int compressed = _zstd.Wrap(raw, _compressed);

        _header.ResetWrittenCount();
        var t = new ThriftCompactWriter(_header);
        t.StructBegin();
        t.I32(1, 0); // DATA_PAGE
        t.I32(2, raw.Length);
        t.I32(3, compressed);
        t.StructField(5); // DataPageHeader
        t.I32(1, rows);
        t.I32(2, spec.Encoding);
        t.I32(3, Rle);
        t.I32(4, Rle);
        t.StructEnd();
        t.StructEnd();

        long offset = _position;
        _out.Write(_header.WrittenSpan);
        _out.Write(_compressed, 0, compressed);
        _position += _header.WrittenCount + compressed;
        rg.Chunks.Add(new ChunkMeta(offset, _header.WrittenCount + raw.Length, _header.WrittenCount + compressed, rows, stats, nulls));
    }

    public void EndRowGroup()
    {
        var rg = _current ?? throw new InvalidOperationException("no row group");
        if (rg.Chunks.Count != _columns.Count) throw new InvalidOperationException($"row group has {rg.Chunks.Count} of {_columns.Count} columns");
        _rowGroups.Add(rg);
        _rows += rg.Rows;
        _current = null;
    }

    /// <summary>Writes the footer: schema, row groups, key-value metadata.</summary>
    public void Finish(IReadOnlyDictionary<string, string> keyValues)
    {
        var footer = new ArrayBufferWriter<byte>(16 << 10);
        var t = new ThriftCompactWriter(footer);
        t.StructBegin();
        t.I32(1, 1); // version
        t.ListField(2, ThriftCompactWriter.TypeStruct, _columns.Count + 1);
        t.StructBegin(); // root
        t.String(4, "schema");
        t.I32(5, _columns.Count);
        t.StructEnd();
        foreach (var c in _columns)
        {
            t.StructBegin();
            t.I32(1, (int)c.Type);
            t.I32(3, c.Optional ? 1 : 0);
            t.String(4, c.Name);
            if (c.Converted is int conv) t.I32(6, conv);
            if (c.IsString || c.IntBits > 0)
            {
                t.StructField(10); // LogicalType union
                if (c.IsString) { t.StructField(1); t.StructEnd(); }
                else { t.StructField(10); t.I8Field(1, (sbyte)c.IntBits); t.Bool(2, c.IntSigned); t.StructEnd(); }
                t.StructEnd();
            }
            t.StructEnd();
        }
        t.I64(3, _rows);
        t.ListField(4, ThriftCompactWriter.TypeStruct, _rowGroups.Count);
        foreach (var rg in _rowGroups)
        {
            t.StructBegin();
            t.ListField(1, ThriftCompactWriter.TypeStruct, rg.Chunks.Count);
            long totalUncompressed = 0, totalCompressed = 0;
            for (int i = 0; i < rg.Chunks.Count; i++)
            {
                var ch = rg.Chunks[i];
                var c = _columns[i];
                totalUncompressed += ch.Uncompressed; totalCompressed += ch.Compressed;
                t.StructBegin(); // ColumnChunk
                t.I64(2, ch.Offset);
                t.StructField(3); // ColumnMetaData
                t.I32(1, (int)c.Type);
                t.ListField(2, ThriftCompactWriter.TypeI32, 2);
                t.I32Value(c.Encoding);
                t.I32Value(Rle);
                t.ListField(3, ThriftCompactWriter.TypeBinary, 1);
                t.StringValue(c.Name);
                t.I32(4, Zstd);
                t.I64(5, ch.Values);
                t.I64(6, ch.Uncompressed);
                t.I64(7, ch.Compressed);
                t.I64(9, ch.Offset);
                WriteStatistics(t, c, ch);
                t.StructEnd();
                t.StructEnd();
            }
            t.I64(2, totalUncompressed);
            t.I64(3, rg.Rows);
            t.I64(5, rg.Offset);
            t.I64(6, totalCompressed);
            t.StructEnd();
        }
        if (keyValues.Count > 0)
        {
            t.ListField(5, ThriftCompactWriter.TypeStruct, keyValues.Count);
            foreach (var (k, v) in keyValues)
            {
                t.StructBegin();
                t.String(1, k);
                t.String(2, v);
                t.StructEnd();
            }
        }
        t.String(6, "asitrace");
        t.StructEnd();
        _out.Write(footer.WrittenSpan);
        Span<byte> tail = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(tail, footer.WrittenCount);
        "PAR1"u8.CopyTo(tail[4..]);
        _out.Write(tail);
        _out.Flush();
    }

    /// <summary>
    /// DELTA_BINARY_PACKED (parquet-format Encodings.md): header (block size 128, 4 miniblocks, count, first value),
    /// then per block the minimum delta and four miniblocks of 32 deltas bit-packed at their own width. Timestamps step
    /// by a few µs, so most miniblocks need 10–20 bits a value instead of 64.
    /// </summary>
    public static void DeltaBinaryPacked(ReadOnlySpan<long> values, IBufferWriter<byte> w)
    {
        const int BlockSize = 128, Miniblocks = 4, PerMiniblock = 32;
        WriteVarint(w, BlockSize);
        WriteVarint(w, Miniblocks);
        WriteVarint(w, (ulong)values.Length);
        WriteVarint(w, ZigZag(values.IsEmpty ? 0 : values[0]));
        Span<ulong> deltas = stackalloc ulong[BlockSize];
        Span<long> raw = stackalloc long[BlockSize];
        Span<int> width = stackalloc int[Miniblocks];
        for (int i = 1; i < values.Length; i += BlockSize)
        {
            int n = Math.Min(BlockSize, values.Length - i);
            long min = long.MaxValue;
            for (int k = 0; k < n; k++) { raw[k] = unchecked(values[i + k] - values[i + k - 1]); if (raw[k] < min) min = raw[k]; }
            for (int k = 0; k < BlockSize; k++) deltas[k] = k < n ? unchecked((ulong)(raw[k] - min)) : 0;
            WriteVarint(w, ZigZag(min));
            var widths = w.GetSpan(Miniblocks);
            for (int m = 0; m < Miniblocks; m++)
            {
                ulong max = 0;
                for (int k = m * PerMiniblock; k < Math.Min(n, (m + 1) * PerMiniblock); k++) max |= deltas[k];
                width[m] = m * PerMiniblock < n ? 64 - System.Numerics.BitOperations.LeadingZeroCount(max) : 0;
                widths[m] = (byte)width[m];
            }
            w.Advance(Miniblocks);
            for (int m = 0; m < Miniblocks && m * PerMiniblock < n; m++)
            {
                int bytes = PerMiniblock * width[m] / 8;
                var dst = w.GetSpan(bytes);
                UInt128 acc = 0; int bits = 0, o = 0;
                for (int k = m * PerMiniblock; k < (m + 1) * PerMiniblock; k++)
                {
                    acc |= (UInt128)deltas[k] << bits;
                    bits += width[m];
                    while (bits >= 8) { dst[o++] = (byte)acc; acc >>= 8; bits -= 8; }
                }
                w.Advance(bytes);
            }
        }
    }

    static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    /// <summary>ColumnMetaData.statistics (field 12): null_count, and for integers min_value/max_value as PLAIN bytes,
    /// in the order of the column's logical type (unsigned types compare unsigned).</summary>
    static void WriteStatistics(ThriftCompactWriter t, ColumnSpec c, ChunkMeta ch)
    {
        bool integer = c.Type is ColumnSpec.Physical.Int32 or ColumnSpec.Physical.Int64;
        t.StructField(12);
        t.I64(3, ch.Nulls);
        if (integer && ch.Stats is { } s)
        {
            bool unsigned = c.IntBits > 0 && !c.IntSigned;
            long max = unsigned ? s.UnsignedMax : s.Max, min = unsigned ? s.UnsignedMin : s.Min;
            int width = c.Type == ColumnSpec.Physical.Int32 ? 4 : 8;
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, max);
            t.BinaryField(5, b[..width]);
            BinaryPrimitives.WriteInt64LittleEndian(b, min);
            t.BinaryField(6, b[..width]);
        }
        t.StructEnd();
    }

    static void WriteVarint(IBufferWriter<byte> w, ulong v)
    {
        var span = w.GetSpan(10);
        int n = 0;
        while (v >= 0x80) { span[n++] = (byte)(v | 0x80); v >>= 7; }
        span[n++] = (byte)v;
        w.Advance(n);
    }

    public void Dispose() => _zstd.Dispose();
}
