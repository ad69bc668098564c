using System.Text;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary.Perf;

/// <summary>One <c>perf_event_attr</c> of the file with the sample ids that belong to it (docs/formats.md §10.1).</summary>
public sealed class PerfAttr
{
    public uint Type { get; init; }
    public ulong Config { get; init; }
    public ulong SampleType { get; init; }
    public ulong ReadFormat { get; init; }
    public bool SampleIdAll { get; init; }
    public ulong[] Ids { get; set; } = [];
    public string? Name { get; set; }
    public const uint TypeTracepoint = 2;

    /// <summary>
    /// Offsets of TID, TIME, CPU and the RAW size word when every field before RAW has a fixed size (no CALLCHAIN, no
    /// group READ) — the common case, decoded without walking; -1 where a field is absent or the layout is not fixed.
    /// </summary>
    public int TidAt = -1, TimeAt = -1, CpuAt = -1, RawAt = -1;
    public bool FixedLayout;

    public void ComputeLayout()
    {
        const ulong Group = 8;
        int pos = 8;
        ulong st = SampleType;
        if ((st & PerfDataFile.SampleIdentifier) != 0) pos += 8;
        if ((st & PerfDataFile.SampleIp) != 0) pos += 8;
        if ((st & PerfDataFile.SampleTid) != 0) { TidAt = pos + 4; pos += 8; }
        if ((st & PerfDataFile.SampleTime) != 0) { TimeAt = pos; pos += 8; }
        if ((st & PerfDataFile.SampleAddr) != 0) pos += 8;
        if ((st & PerfDataFile.SampleId) != 0) pos += 8;
        if ((st & PerfDataFile.SampleStreamId) != 0) pos += 8;
        if ((st & PerfDataFile.SampleCpu) != 0) { CpuAt = pos; pos += 8; }
        if ((st & PerfDataFile.SamplePeriod) != 0) pos += 8;
        if ((st & PerfDataFile.SampleRead) != 0)
        {
            if ((ReadFormat & Group) != 0) return;
            pos += 8 + ((ReadFormat & 1) != 0 ? 8 : 0) + ((ReadFormat & 2) != 0 ? 8 : 0) + ((ReadFormat & 4) != 0 ? 8 : 0) + ((ReadFormat & 16) != 0 ? 8 : 0);
        }
        if ((st & PerfDataFile.SampleCallchain) != 0) return;
        if ((st & PerfDataFile.SampleRaw) != 0) RawAt = pos;
        FixedLayout = true;
    }
}

/// <summary>
/// The header, attributes and feature sections of a <c>perf.data</c> (PERFILE2) file read from a mapping: byte
/// order from the magic, attrs with their ids, the tracing data (event formats, cmdlines), OS release and CPU
/// count. Every offset and size is checked against the file before use.
/// </summary>
public sealed class PerfDataFile
{
    public const ulong SampleIdentifier = 1UL << 16, SampleIp = 1, SampleTid = 1 << 1, SampleTime = 1 << 2, SampleAddr = 1 << 3,
        SampleRead = 1 << 4, SampleCallchain = 1 << 5, SampleId = 1 << 6, SampleCpu = 1 << 7, SamplePeriod = 1 << 8,
        SampleStreamId = 1 << 9, SampleRaw = 1 << 10;
    const int MaxAttrs = 65536, MaxIds = 1 << 24;

    public required string Name { get; init; }
    public bool BigEndian { get; private set; }
    public List<PerfAttr> Attrs { get; } = new();
    public long DataOffset { get; private set; }
    public long DataSize { get; private set; }
    public TracingData? Tracing { get; private set; }
    public int TracingLongSize { get; private set; } = 8;
    public bool TracingBigEndian { get; private set; }
    public string? OsRelease { get; private set; }
    public int CpuCount { get; private set; }
    public string? PerfVersion { get; private set; }

    public static PerfDataFile Parse(MappedFile map)
    {
        var f = new PerfDataFile { Name = map.Name };
        f.ParseAll(map);
        return f;
    }

    void ParseAll(MappedFile map)
    {
        var magic = map.SpanUpTo(0, 8);
        if (magic.SequenceEqual("PERFILE2"u8)) BigEndian = !BitConverter.IsLittleEndian;
        else if (magic.SequenceEqual("2ELIFREP"u8)) BigEndian = BitConverter.IsLittleEndian;
        else throw new InvalidTraceException(Name, "byte 0", "not a perf.data file (magic PERFILE2)");
        var c = new BinaryCursor(map.SpanUpTo(0, 104), 0, Name, BigEndian);
        c.Skip(8, "magic");
        ulong headerSize = c.U64("header size");
        if (headerSize == 16)
            throw new InvalidTraceException(Name, "byte 8", "this perf.data was written to a pipe (pipe mode); record to a file (perf record -o FILE) or convert it with `perf inject -i IN -o OUT`");
        if (headerSize < 104 || headerSize > 4096) throw new InvalidTraceException(Name, "byte 8", $"header size {headerSize} is not the 104 bytes of PERFILE2");
        ulong attrSize = c.U64("attr entry size");
        ulong attrsOff = c.U64("attrs offset"), attrsSize = c.U64("attrs size");
        ulong dataOff = c.U64("data offset"), dataSize = c.U64("data size");
        c.Skip(16, "event types");
        var features = new ulong[4];
        for (int i = 0; i < 4; i++) features[i] = c.U64("feature bitmap");
        CheckRange(attrsOff, attrsSize, "attrs section", 24, map);
        CheckRange(dataOff, dataSize, "data section", 40, map);
        DataOffset = (long)dataOff; DataSize = (long)dataSize;
        if (attrSize < 16 + 64 || attrSize > 4096) throw new InvalidTraceException(Name, "byte 16", $"attr entry size {attrSize} is not sane");
        ulong count = attrsSize / attrSize;
        if (count > MaxAttrs || attrsSize % attrSize != 0) throw new InvalidTraceException(Name, "byte 32", $"attrs section of {attrsSize} bytes is not a whole number of {attrSize}-byte entries");
        for (ulong i = 0; i < count; i++) ReadAttr(map, (long)(attrsOff + i * attrSize), (int)attrSize);
        ReadFeatures(map, features);
    }

    void CheckRange(ulong off, ulong size, string what, long at, MappedFile map)
    {
        if (off > (ulong)map.Length || size > (ulong)map.Length - off)
            throw new InvalidTraceException(Name, $"byte {at}", $"{what} [{off}, +{size}) lies outside the file ({map.Length} bytes)");
    }

    void ReadAttr(MappedFile map, long at, int entrySize)
    {
        var c = new BinaryCursor(map.Span(at, entrySize), at, Name, BigEndian);
        uint type = c.U32("attr type");
        uint size = c.U32("attr size");
        if (size < 64 || size > entrySize - 16) throw new InvalidTraceException(Name, $"byte {at + 4}", $"perf_event_attr size {size} does not fit its {entrySize}-byte entry");
        ulong config = c.U64("attr config");
        c.U64("sample period");
        ulong sampleType = c.U64("sample type");
        ulong readFormat = c.U64("read format");
        ulong flags = c.U64("attr flags");
        c.Position = entrySize - 16;
        ulong idsOff = c.U64("ids offset"), idsSize = c.U64("ids size");
        CheckRange(idsOff, idsSize, "attr ids", at + entrySize - 16, map);
        if (idsSize / 8 > MaxIds) throw new InvalidTraceException(Name, $"byte {at + entrySize - 8}", $"{idsSize / 8} sample ids is not sane");
        var attr = new PerfAttr { Type = type, Config = config, SampleType = sampleType, ReadFormat = readFormat, SampleIdAll = (flags & (1UL << 18)) != 0 };
        var ids = new ulong[idsSize / 8];
        var ic = new BinaryCursor(map.Span((long)idsOff, (int)(ids.Length * 8)), (long)idsOff, Name, BigEndian);
        for (int i = 0; i < ids.Length; i++) ids[i] = ic.U64("sample id");
        attr.Ids = ids;
        attr.ComputeLayout();
        Attrs.Add(attr);
    }

    void ReadFeatures(MappedFile map, ulong[] bitmap)
    {
        long table = DataOffset + DataSize;
        int index = 0;
        for (int bit = 0; bit < 256; bit++)
        {
            if ((bitmap[bit / 64] & (1UL << (bit % 64))) == 0) continue;
            long at = table + index * 16L;
            index++;
            if (at + 16 > map.Length) throw new InvalidTraceException(Name, $"byte {at}", $"feature section table entry {index} lies past the end of the file (truncated?)");
            var c = new BinaryCursor(map.Span(at, 16), at, Name, BigEndian);
            ulong off = c.U64("feature offset"), size = c.U64("feature size");
            CheckRange(off, size, $"feature {bit}", at, map);
            if (size > int.MaxValue) continue;
            var data = map.Span((long)off, (int)size);
            switch (bit)
            {
                case 1: ReadTracingData(data, (long)off); break;
                case 4: OsRelease = FeatureString(data, (long)off); break;
                case 5: PerfVersion = FeatureString(data, (long)off); break;
                case 7:
                    if (data.Length >= 8) CpuCount = (int)Math.Min(Endian.U32(data[4..], BigEndian), 65536); // available
                    break;
                case 12: ReadEventDesc(data, (long)off); break;
            }
        }
    }

    string FeatureString(ReadOnlySpan<byte> data, long at)
    {
        var c = new BinaryCursor(data, at, Name, BigEndian);
        int len = c.Size(c.U32("string length"), "feature string");
        var s = c.Bytes(len, "feature string");
        int nul = s.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
    }

    /// <summary>EVENT_DESC: u32 nr, u32 attr size, then per event the attr, u32 nr_ids, a string name, u64 ids.</summary>
    void ReadEventDesc(ReadOnlySpan<byte> data, long at)
    {
        var c = new BinaryCursor(data, at, Name, BigEndian);
        uint nr = c.U32("event desc count");
        uint attrSize = c.U32("event desc attr size");
        if (nr > MaxAttrs || attrSize > 4096) return;
        for (uint i = 0; i < nr; i++)
        {
            c.Skip(attrSize, "event desc attr");
            uint nrIds = c.U32("event desc id count");
            int len = c.Size(c.U32("event name length"), "event name");
            var s = c.Bytes(len, "event name");
            int nul = s.IndexOf((byte)0);
            string name = Encoding.UTF8.GetString(nul >= 0 ? s[..nul] : s);
            if (nrIds > MaxIds) return;
            ulong first = 0;
            for (uint k = 0; k < nrIds; k++) { ulong id = c.U64("event desc id"); if (k == 0) first = id; }
            foreach (var a in Attrs) if (nrIds > 0 && Array.IndexOf(a.Ids, first) >= 0) a.Name = name;
        }
    }

    /// <summary>TRACING_DATA: trace.dat v6 steps 1–6 with version "0.6" (docs/formats.md §10.1).</summary>
    void ReadTracingData(ReadOnlySpan<byte> data, long at)
    {
        var c = new BinaryCursor(data, at, Name, false);
        c.Expect("\x17\x08\x44tracing"u8, "tracing data magic");
        string version = c.CString("tracing data version", 16);
        byte endian = c.U8("tracing data endianness");
        TracingBigEndian = endian == 1;
        TracingLongSize = c.U8("tracing data long size");
        var t = new BinaryCursor(data, at, Name, TracingBigEndian) { Position = c.Position };
        t.U32("tracing data page size");
        var td = new TracingData();
        td.ReadHeaderInfo(ref t, Name);
        td.ReadFtraceFormats(ref t, Name);
        td.ReadEventFormats(ref t, Name);
        TracingData.SkipKallsyms(ref t);
        TracingData.SkipPrintk(ref t);
        if (double.TryParse(version, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) && v >= 0.6 && !t.AtEnd)
            td.ReadCmdlines(ref t);
        Tracing = td;
    }
}
