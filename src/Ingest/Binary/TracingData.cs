using System.Globalization;
using System.Text;
using AsiTrace.Ingest.Formats;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// The tracing metadata trace-cmd and perf embed (docs/formats.md §9 steps 1–6, §10.1 TRACING_DATA): the
/// ring-buffer page header, every recorded event's format description, and the saved cmdlines. Shared by
/// trace.dat v6 (sequential), v7 (one section each) and perf.data (the TRACING_DATA feature).
/// </summary>
public sealed class TracingData
{
    const int MaxFormatText = 1 << 20, MaxCount = 100_000, MaxCmdlines = 64 << 20;

    /// <summary>Size of the page header's <c>commit</c> field: the kernel's long (8, or 4 on 32-bit kernels).</summary>
    public int CommitSize { get; private set; } = 8;
    /// <summary>Offset of the event data in a ring-buffer page (16, or 12 with a 4-byte commit).</summary>
    public int PageDataOffset { get; private set; } = 16;
    public Dictionary<int, EventFormat> Formats { get; } = new();
    public Dictionary<int, string> Cmdlines { get; } = new();

    public void ReadHeaderInfo(ref BinaryCursor c, string file)
    {
        c.Expect("header_page\0"u8, "'header_page' tag");
        long at = c.FileOffset;
        var page = Text(ref c, c.U64("header_page size"), "header_page");
        List<FormatField> fields;
        try { fields = EventFormat.ParseFields(page); }
        catch (FormatException e) { throw new InvalidTraceException(file, $"byte {at}", $"bad header_page description: {e.Message}"); }
        foreach (var f in fields)
        {
            if (f.Name == "commit" && f.Size is 4 or 8) CommitSize = f.Size;
            if (f.Name == "data" && f.Offset is > 0 and < 64) PageDataOffset = f.Offset;
        }
        c.Expect("header_event\0"u8, "'header_event' tag");
        Text(ref c, c.U64("header_event size"), "header_event");
    }

    public void ReadFtraceFormats(ref BinaryCursor c, string file)
    {
        uint count = c.U32("ftrace format count");
        if (count > MaxCount) throw new InvalidTraceException(file, $"byte {c.FileOffset - 4}", $"ftrace format count {count} is not sane (limit {MaxCount})");
        for (uint i = 0; i < count; i++) AddFormat(Text(ref c, c.U64("ftrace format size"), "ftrace format"), "ftrace", file, c.FileOffset);
    }

    public void ReadEventFormats(ref BinaryCursor c, string file)
    {
        uint systems = c.U32("event system count");
        if (systems > MaxCount) throw new InvalidTraceException(file, $"byte {c.FileOffset - 4}", $"event system count {systems} is not sane");
        for (uint s = 0; s < systems; s++)
        {
            string system = c.CString("event system name", 256);
            uint count = c.U32("event count");
            if (count > MaxCount) throw new InvalidTraceException(file, $"byte {c.FileOffset - 4}", $"event count {count} of system {system} is not sane");
            for (uint i = 0; i < count; i++) AddFormat(Text(ref c, c.U64("event format size"), "event format"), system, file, c.FileOffset);
        }
    }

    public static void SkipKallsyms(ref BinaryCursor c) => c.Skip(c.Size(c.U32("kallsyms size"), "kallsyms"), "kallsyms");
    public static void SkipPrintk(ref BinaryCursor c) => c.Skip(c.Size(c.U32("printk size"), "printk formats"), "printk formats");

    public void ReadCmdlines(ref BinaryCursor c)
    {
        int size = c.Size(c.U64("cmdlines size"), "saved cmdlines", MaxCmdlines);
        ParseCmdlines(c.Bytes(size, "saved cmdlines"));
    }

    /// <summary><c>&lt;pid&gt; &lt;comm&gt;</c> per line (comm may contain spaces).</summary>
    public void ParseCmdlines(ReadOnlySpan<byte> text)
    {
        foreach (var line in Encoding.UTF8.GetString(text).Split('\n'))
        {
            int sp = line.IndexOf(' ');
            if (sp <= 0) continue;
            if (int.TryParse(line.AsSpan(0, sp), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                Cmdlines[pid] = line[(sp + 1)..].TrimEnd('\r', '\0');
        }
    }

    static string Text(ref BinaryCursor c, ulong size, string what) =>
        Encoding.UTF8.GetString(c.Bytes(c.Size(size, what, MaxFormatText), what));

    void AddFormat(string text, string system, string file, long endOffset)
    {
        EventFormat f;
        try { f = EventFormat.Parse(text, system); }
        catch (FormatException e) { throw new InvalidTraceException(file, $"byte {endOffset - text.Length}", $"bad {system} event format: {e.Message}"); }
        if (f.Id >= 0) Formats[f.Id] = f;
    }
}
