using System.Text;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary.TraceDat;

/// <summary>Where one CPU's ring-buffer pages are in the file (docs/formats.md §9 step 9, §9.3 BUFFER).</summary>
public readonly record struct CpuData(int Cpu, long Offset, long Size);

/// <summary>
/// The layout of a trace-cmd <c>trace.dat</c>, versions 6 (sequential) and 7 (sections, optionally compressed), read
/// from a mapped file: tracing metadata, options, and where each CPU's data is. Every offset and size is checked
/// against the file and a sane bound before use; section chains are followed with cycle detection.
/// </summary>
public sealed class TraceDatFile
{
    public const int MaxCpus = 8192;
    const int MaxOptions = 100_000, MaxOptionSize = 64 << 20;

    public required string Name { get; init; }
    public int Version { get; private set; }
    public bool BigEndian { get; private set; }
    public int LongSize { get; private set; }
    public int PageSize { get; private set; }
    public string Compression { get; private set; } = "none";
    /// <summary>v7: the BUFFER section's data is compressed in chunks.</summary>
    public bool CompressedData { get; private set; }
    public TracingData Tracing { get; } = new();
    public List<CpuData> Cpus { get; } = new();
    public string? Clock { get; private set; }
    public string? Uname { get; private set; }
    public string? TraceCmdVersion { get; private set; }
    public List<string> CpuStats { get; } = new();
    /// <summary>DATE option: offset added to every timestamp.</summary>
    public long TimeOffset { get; private set; }
    /// <summary>TSC2NSEC option: ns = ((ts * Mult) &gt;&gt; Shift) + Offset.</summary>
    public (uint Mult, int Shift, long Offset)? Tsc2Nsec { get; private set; }
    public List<string> Notes { get; } = new();
    public int DeclaredCpus { get; private set; }
    /// <summary>v7: where the BUFFER section header is, and where each CPU's data-size field is (tests rewrite them).</summary>
    internal long BufferSectionOffset { get; private set; } = -1;
    internal List<long> CpuSizeFieldOffsets { get; } = new();

    public static TraceDatFile Parse(MappedFile map)
    {
        var f = new TraceDatFile { Name = map.Name };
        f.ParseAll(map);
        return f;
    }

    void ParseAll(MappedFile map)
    {
        var c = new BinaryCursor(map.SpanUpTo(0, 64), 0, Name, false);
        c.Expect("\x17\x08\x44tracing"u8, "trace.dat magic 17 08 44 'tracing'");
        string version = c.CString("file version", 8);
        if (!int.TryParse(version, out int v) || v is not (6 or 7))
            throw new InvalidTraceException(Name, "byte 10", $"trace.dat file version '{version}' is not supported (6 and 7 are)");
        Version = v;
        byte endian = c.U8("endianness");
        if (endian > 1) throw new InvalidTraceException(Name, $"byte {c.FileOffset - 1}", $"endianness byte {endian} is neither 0 nor 1");
        BigEndian = endian == 1;
        LongSize = c.U8("long size");
        if (LongSize is not (4 or 8)) throw new InvalidTraceException(Name, $"byte {c.FileOffset - 1}", $"user-space long size {LongSize} is neither 4 nor 8");
        var cc = new BinaryCursor(map.SpanUpTo(0, 64), 0, Name, BigEndian) { Position = (int)c.FileOffset };
        PageSize = CheckPageSize(cc.U32("page size"), cc.FileOffset - 4);
        if (Version == 6) ParseV6(map, (int)cc.FileOffset);
        else ParseV7(map, (int)cc.FileOffset);
    }

    int CheckPageSize(uint size, long at)
    {
        if (size < 64 || size > (64 << 20) || (size & (size - 1)) != 0)
            throw new InvalidTraceException(Name, $"byte {at}", $"page size {size} is not a power of two between 64 B and 64 MiB");
        return (int)size;
    }

    // ---- version 6: everything in sequence ----

    void ParseV6(MappedFile map, int start)
    {
        // Metadata is at the start of the file (kallsyms can be several MB); CPU data is read through the map by
        // offset, so one span over the first 2 GiB covers everything parsed here.
        var c = new BinaryCursor(map.SpanUpTo(0, int.MaxValue), 0, Name, BigEndian) { Position = start };
        Tracing.ReadHeaderInfo(ref c, Name);
        Tracing.ReadFtraceFormats(ref c, Name);
        Tracing.ReadEventFormats(ref c, Name);
        TracingData.SkipKallsyms(ref c);
        TracingData.SkipPrintk(ref c);
        Tracing.ReadCmdlines(ref c);
        uint cpus = c.U32("CPU count");
        if (cpus > MaxCpus) throw new InvalidTraceException(Name, $"byte {c.FileOffset - 4}", $"CPU count {cpus} is not sane (limit {MaxCpus})");
        DeclaredCpus = (int)cpus;
        for (int guard = 0; guard < 16; guard++)
        {
            var tag = c.Bytes(10, "section tag (options/latency/flyrecord)");
            if (tag.SequenceEqual("options  \0"u8))
            {
                for (int n = 0; ; n++)
                {
                    if (n > MaxOptions) throw new InvalidTraceException(Name, $"byte {c.FileOffset}", "too many options");
                    ushort id = c.U16("option id");
                    if (id == 0) break; // v6: DONE has no size field
                    int size = c.Size(c.U32("option size"), $"option {id}", MaxOptionSize);
                    long at = c.FileOffset;
                    Option(id, c.Bytes(size, $"option {id}"), at, map);
                }
                continue;
            }
            if (tag.SequenceEqual("latency  \0"u8))
                throw new InvalidTraceException(Name, $"byte {c.FileOffset - 10}", "this trace.dat holds a latency-format text trace, not ring-buffer data; read it with `trace-cmd report` and ingest the text");
            if (tag.SequenceEqual("flyrecord\0"u8))
            {
                for (int cpu = 0; cpu < cpus; cpu++)
                {
                    ulong off = c.U64("CPU data offset"), size = c.U64("CPU data size");
                    AddCpu(cpu, off, size, c.FileOffset - 16, map);
                }
                return;
            }
            throw new InvalidTraceException(Name, $"byte {c.FileOffset - 10}", "expected 'options', 'latency' or 'flyrecord'");
        }
        throw new InvalidTraceException(Name, $"byte {c.FileOffset}", "too many option blocks");
    }

    void AddCpu(int cpu, ulong off, ulong size, long at, MappedFile map)
    {
        if (off > (ulong)map.Length || size > (ulong)map.Length - off)
            throw new InvalidTraceException(Name, $"byte {at}", $"CPU {cpu} data [{off}, +{size}) lies outside the file ({map.Length} bytes)");
        if (size > 0) Cpus.Add(new CpuData(cpu, (long)off, (long)size));
    }

    // ---- version 7: sections found through option chains ----

    readonly HashSet<long> _visited = new();
    readonly HashSet<int> _sectionsRead = new();
    BlockDecompressor? _decompressor;

    void ParseV7(MappedFile map, int start)
    {
        var c = new BinaryCursor(map.SpanUpTo(start, 4096), start, Name, BigEndian);
        Compression = c.CString("compression name", 64);
        c.CString("compression version", 64);
        ulong next = c.U64("first options offset");
        using (_decompressor = new BlockDecompressor(Compression, Name))
        {
            for (int n = 0; next != 0; n++)
            {
                if (n > 1000) throw new InvalidTraceException(Name, $"byte {next}", "too many options sections");
                next = OptionsSection(map, next);
            }
        }
        _decompressor = null;
        if (!_sectionsRead.Contains(16)) throw new InvalidTraceException(Name, "options", "the file has no HEADER_INFO section");
        if (!_sectionsRead.Contains(18)) throw new InvalidTraceException(Name, "options", "the file has no EVENT_FORMATS section");
    }

    /// <summary>Reads a section at <paramref name="offset"/>: its header, then its content (decompressed if flagged).</summary>
    byte[] Section(MappedFile map, ulong offset, int expectId, out bool flaggedCompressed, out long contentOffset)
    {
        if (map.Length < 16 || offset > (ulong)map.Length - 16)
            throw new InvalidTraceException(Name, $"byte {offset}", "section offset points past the end of the file");
        if (!_visited.Add((long)offset)) throw new InvalidTraceException(Name, $"byte {offset}", "section offsets form a loop");
        var h = new BinaryCursor(map.Span((long)offset, 16), (long)offset, Name, BigEndian);
        ushort id = h.U16("section id");
        ushort flags = h.U16("section flags");
        h.U32("section description");
        ulong size = h.U64("section size");
        if (id != expectId) throw new InvalidTraceException(Name, $"byte {offset}", $"expected section {expectId}, found {id}");
        contentOffset = (long)offset + 16;
        if (size > (ulong)(map.Length - contentOffset))
            throw new InvalidTraceException(Name, $"byte {offset + 8}", $"section {id} size {size} points past the end of the file");
        flaggedCompressed = (flags & 1) != 0;
        if (id == 3) return []; // BUFFER: the per-CPU data is read in place
        if (size > (ulong)MaxOptionSize * 4)
            throw new InvalidTraceException(Name, $"byte {offset + 8}", $"section {id} size {size} exceeds the {MaxOptionSize * 4} byte limit");
        var content = map.Span(contentOffset, (int)size);
        if (!flaggedCompressed) return content.ToArray();
        var cc = new BinaryCursor(content, contentOffset, Name, BigEndian);
        uint csize = cc.U32("compressed size"), usize = cc.U32("uncompressed size");
        if (csize > cc.Remaining) throw new InvalidTraceException(Name, $"byte {contentOffset}", $"compressed size {csize} exceeds the section ({cc.Remaining} bytes left)");
        if (usize > BlockDecompressor.PlausibleLimit(csize))
            throw new InvalidTraceException(Name, $"byte {contentOffset + 4}", $"section claims {usize} uncompressed bytes from {csize} compressed (limit {BlockDecompressor.PlausibleLimit(csize)})");
        var dest = new byte[usize];
        _decompressor!.Decompress(cc.Bytes((int)csize, "compressed section"), dest, contentOffset + 8);
        return dest;
    }

    ulong OptionsSection(MappedFile map, ulong offset)
    {
        var data = Section(map, offset, 0, out _, out long contentOffset);
        var c = new BinaryCursor(data, contentOffset, Name, BigEndian);
        for (int n = 0; ; n++)
        {
            if (n > MaxOptions) throw new InvalidTraceException(Name, $"byte {c.FileOffset}", "too many options");
            if (c.AtEnd) return 0;
            ushort id = c.U16("option id");
            int size = c.Size(c.U32("option size"), $"option {id}", MaxOptionSize);
            long at = c.FileOffset;
            var value = c.Bytes(size, $"option {id}");
            // v7 DONE: u64 offset of the next options section (0 = none).
            if (id == 0) return size >= 8 ? Endian.U64(value, BigEndian) : 0;
            Option(id, value, at, map);
        }
    }

    void Option(ushort id, ReadOnlySpan<byte> v, long at, MappedFile map)
    {
        static string Text(ReadOnlySpan<byte> s) => Encoding.UTF8.GetString(s).TrimEnd('\0', '\n', ' ');
        switch (id)
        {
            case 1: // DATE: "0x…" offset to add to timestamps
                var t = Text(v);
                if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && long.TryParse(t[2..], System.Globalization.NumberStyles.HexNumber, null, out long off)) TimeOffset = off;
                else if (long.TryParse(t, out long dec)) TimeOffset = dec;
                break;
            case 2: CpuStats.Add(Text(v)); break;
            case 3:
                if (Version == 7) BufferOption(v, at, map);
                else Notes.Add("a second trace instance (BUFFER option) is not read; only the top instance is");
                break;
            case 4:
                var clock = Text(v);
                int a = clock.IndexOf('['), b = clock.IndexOf(']');
                Clock = a >= 0 && b > a ? clock[(a + 1)..b] : clock.Trim();
                break;
            case 5: Uname = Text(v); break;
            case 8: if (v.Length >= 4) DeclaredCpus = (int)Math.Min(Endian.U32(v, BigEndian), MaxCpus); break;
            case 9: TraceCmdVersion = Text(v); break;
            case 14:
                if (v.Length >= 16)
                {
                    uint mult = Endian.U32(v, BigEndian), shift = Endian.U32(v[4..], BigEndian);
                    if (shift < 64) Tsc2Nsec = (mult, (int)shift, (long)Endian.U64(v[8..], BigEndian));
                }
                break;
            case >= 16 and <= 21:
                if (Version != 7) break;
                if (v.Length < 8) throw new InvalidTraceException(Name, $"byte {at}", $"option {id} is too short for a section offset");
                MetadataSection(id, Endian.U64(v, BigEndian), map);
                break;
            case 22:
                throw new InvalidTraceException(Name, $"byte {at}", "this trace.dat holds a latency-format text buffer, not ring-buffer data; read it with `trace-cmd report` and ingest the text");
        }
    }

    void MetadataSection(int id, ulong offset, MappedFile map)
    {
        var data = Section(map, offset, id, out _, out long contentOffset);
        var c = new BinaryCursor(data, contentOffset, Name, BigEndian);
        switch (id)
        {
            case 16: Tracing.ReadHeaderInfo(ref c, Name); break;
            case 17: Tracing.ReadFtraceFormats(ref c, Name); break;
            case 18: Tracing.ReadEventFormats(ref c, Name); break;
            case 21: Tracing.ReadCmdlines(ref c); break;
        }
        _sectionsRead.Add(id);
    }

    void BufferOption(ReadOnlySpan<byte> v, long at, MappedFile map)
    {
        var c = new BinaryCursor(v, at, Name, BigEndian);
        ulong sectionOffset = c.U64("buffer section offset");
        string instance = c.CString("buffer instance name", 256);
        string clock = c.CString("buffer clock", 64);
        int pageSize = CheckPageSize(c.U32("buffer page size"), c.FileOffset - 4);
        uint cpus = c.U32("buffer CPU count");
        if (cpus > MaxCpus) throw new InvalidTraceException(Name, $"byte {c.FileOffset - 4}", $"CPU count {cpus} is not sane (limit {MaxCpus})");
        if (instance.Length > 0) { Notes.Add($"trace instance '{instance}' is not read; only the top instance is"); return; }
        if (clock.Length > 0) Clock = clock;
        PageSize = pageSize;
        DeclaredCpus = (int)cpus;
        Section(map, sectionOffset, 3, out bool compressed, out _);
        CompressedData = compressed;
        BufferSectionOffset = (long)sectionOffset;
        for (int i = 0; i < cpus; i++)
        {
            uint cpu = c.U32("CPU id");
            ulong off = c.U64("CPU data offset");
            CpuSizeFieldOffsets.Add(c.FileOffset);
            ulong size = c.U64("CPU data size");
            if (cpu >= MaxCpus) throw new InvalidTraceException(Name, $"byte {c.FileOffset - 20}", $"CPU id {cpu} is not sane");
            AddCpu((int)cpu, off, size, c.FileOffset - 16, map);
        }
    }
}
