using AsiTrace.Ingest.Binary.Perf;
using AsiTrace.Ingest.Binary.TraceDat;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Csv;
using AsiTrace.Ingest.Formats;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Sorting;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>
/// Opens an input (file, <c>-</c>, or a directory made by <c>record</c>) as a time-ordered canonical event stream:
/// decompresses by magic, detects the format by content, picks the gfp table (the trace's own format description
/// when one is beside it, else the built-in table of the kernel era), and wraps the reader in the bounded merger.
/// </summary>
public static class TraceOpener
{
    public static IEventReader Open(string path, IngestOptions options)
    {
        var meta = new TraceMetadata();
        string file = path;
        string? formatDir = options.FormatDir;
        if (path != "-" && Directory.Exists(path))
        {
            file = FindTraceInDirectory(path);
            string snap = Path.Combine(path, "snapshot-start");
            if (Directory.Exists(snap))
            {
                formatDir ??= snap;
                ReadSnapshotFacts(snap, meta);
            }
        }
        var input = TraceInput.Open(file);
        try
        {
            return Wrap(OpenInput(input, options, meta, formatDir), options);
        }
        catch
        {
            input.Dispose();
            throw;
        }
    }

    /// <summary>A text trace whose first line is longer than the detection peek (a corrupt or giant line): look at what
    /// follows the first newline, within the first 256 MiB of a mapped file. Binary formats have their magic at byte 0.</summary>
    static (InputFormat Format, TextDialect Dialect)? DetectPastALongFirstLine(TraceInput input)
    {
        if (input.Mapped is not { } m || input.Head.Span.IndexOf((byte)'\n') >= 0) return null;
        var window = m.SpanUpTo(0, 256 << 20);
        int nl = window.IndexOf((byte)'\n');
        if (nl < 0 || nl + 1 >= window.Length) return null;
        var next = window[(nl + 1)..];
        var d = FormatDetector.Detect(next[..Math.Min(next.Length, TraceInput.PeekSize)]);
        return d is { Format: InputFormat.Ftrace or InputFormat.TraceCmdReport or InputFormat.PerfScript } ? d : null;
    }

    /// <summary>Text and CSV need the bounded merge; ordered readers (binary formats, events files) do not.</summary>
    static IEventReader Wrap(IEventReader reader, IngestOptions options) =>
        reader is IOrderedEventReader ? reader : new TimestampMerger(reader, options.SortWindowNs, options.SortCapacity);

    static IEventReader OpenInput(TraceInput input, IngestOptions options, TraceMetadata meta, string? formatDir)
    {
        // No bytes and only blank lines alike are an empty trace (0 events), as an empty tracefs read is.
        var detected = input.Head.Span.IndexOfAnyExcept(" \t\r\n"u8) < 0 ? (InputFormat.Ftrace, TextDialect.Ftrace) : FormatDetector.Detect(input.Head.Span);
        detected ??= DetectPastALongFirstLine(input);
        InputFormat format = options.Format;
        TextDialect dialect = TextDialect.Ftrace;
        if (format == InputFormat.Auto)
        {
            if (detected is null)
                throw new InvalidTraceException(input.Name, "byte 0", $"unrecognised format{(input.Compression is null ? "" : $" (after {input.Compression} decompression)")}; tried: {FormatDetector.Tried}");
            (format, dialect) = detected.Value;
        }
        else
        {
            dialect = format switch
            {
                InputFormat.PerfScript => TextDialect.PerfScript,
                InputFormat.TraceCmdReport => detected is { Format: InputFormat.TraceCmdReport or InputFormat.Ftrace } d && d.Dialect is TextDialect.Latency ? TextDialect.Latency : TextDialect.TraceCmdReport,
                InputFormat.Ftrace => detected is { } d2 && d2.Dialect is TextDialect.Latency or TextDialect.LatencyVerbose ? d2.Dialect : TextDialect.Ftrace,
                _ => TextDialect.Ftrace,
            };
        }
        meta.KernelRelease ??= options.KernelRelease;
        switch (format)
        {
            case InputFormat.TraceDat:
                return new TraceDatReader(input, meta);
            case InputFormat.PerfData:
                return new PerfDataReader(input, meta);
            case InputFormat.EventsParquet:
                if (input.Compression is not null || !input.RawFile.CanSeek)
                    throw new InvalidTraceException(input.Name, "byte 0", "an events Parquet file must be a seekable, uncompressed file (not stdin)");
                input.RawFile.Position = 0;
                return new EventsParquetReader(input);
            case InputFormat.Csv:
                return new CsvEventReader(input, GfpTableFor(meta, formatDir));
            default:
                var table = GfpTableFor(meta, formatDir);
                var reader = new TextTraceReader(input, dialect, table, meta);
                if (input.Compression is not null) meta.Notes.Add($"input was {input.Compression} compressed");
                return reader;
        }
    }

    /// <summary>The trace's own <c>__print_flags</c> table if a format file is at hand, else the era table.</summary>
    public static GfpTable GfpTableFor(TraceMetadata meta, string? formatDir)
    {
        if (formatDir is not null)
        {
            string f = Path.Combine(formatDir, "kmem.mm_page_alloc.format");
            if (File.Exists(f))
            {
                EventFormat fmt;
                try { fmt = EventFormat.Parse(File.ReadAllText(f), "kmem"); }
                catch (FormatException e) { throw new InvalidTraceException(f, "format file", e.Message); }
                var entries = PrintFmtTables.Find(fmt.PrintFmt, "__print_flags", "gfp_flags");
                if (entries is { Count: > 0 }) return new GfpTable("format:" + f, entries.ConvertAll(x => (x.Name, x.Value)));
                meta.Notes.Add($"{f}: the gfp flag table could not be evaluated; using the built-in table");
            }
        }
        string era = GfpEras.ForRelease(meta.KernelRelease);
        if (meta.KernelRelease is null) meta.Notes.Add($"kernel release unknown: gfp names decoded with the built-in {era} table");
        return GfpEras.Table(era);
    }

    static void ReadSnapshotFacts(string snap, TraceMetadata meta)
    {
        string uname = Path.Combine(snap, "uname");
        if (File.Exists(uname))
        {
            // "Linux vm 6.18.44-fc-v657 #1 SMP ..." (uname -a) or the bare release (uname -r).
            if (Binary.PidComms.ReleaseFromUname(File.ReadAllText(uname).Trim()) is { } release) meta.KernelRelease = release;
        }
        string clock = Path.Combine(snap, "trace_clock");
        if (File.Exists(clock))
        {
            string t = File.ReadAllText(clock);
            int a = t.IndexOf('['), b = t.IndexOf(']');
            if (a >= 0 && b > a) meta.Clock = t[(a + 1)..b];
        }
        string nproc = Path.Combine(snap, "nproc");
        if (File.Exists(nproc) && int.TryParse(File.ReadAllText(nproc).Trim(), out int n)) meta.CpuCount = n;
    }

    static bool IsRegularFile(string path) => UnixFileType.Of(path) == UnixFileType.Kind.Regular;

    /// <summary>A record directory holds one trace file; find it by content among the top-level files.</summary>
    public static string FindTraceInDirectory(string dir)
    {
        // Regular files only: opening a FIFO (or a device) blocks until a writer comes.
        var candidates = Directory.GetFiles(dir).Where(IsRegularFile).OrderBy(f => f, StringComparer.Ordinal).ToList();
        foreach (var f in candidates)
        {
            try
            {
                using var input = TraceInput.Open(f);
                var d = FormatDetector.Detect(input.Head.Span);
                if (d is not null && input.Head.Length > 0) return f;
            }
            catch (InvalidTraceException) { }
        }
        throw new InvalidTraceException(dir, "directory", $"no trace file found among {candidates.Count} files; tried: {FormatDetector.Tried}");
    }
}
