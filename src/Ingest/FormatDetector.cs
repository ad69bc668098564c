using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Ingest;

/// <summary>Input formats, as named on the command line (<c>--format</c>).</summary>
public enum InputFormat { Auto, Ftrace, TraceCmdReport, PerfScript, TraceDat, PerfData, Csv, EventsParquet }

/// <summary>
/// Recognises a format from content, never from the file name: binary magics first, then a vote over the
/// first lines of text (each dialect's tokenizer must accept the event lines).
/// </summary>
public static class FormatDetector
{
    public static readonly string[] CliNames = ["auto", "ftrace", "trace-cmd-report", "perf-script", "trace-dat", "perf-data", "csv", "events-parquet"];

    public static string Name(InputFormat f) => CliNames[(int)f];

    public static bool TryParseName(string name, out InputFormat f)
    {
        int i = Array.IndexOf(CliNames, name);
        f = i < 0 ? InputFormat.Auto : (InputFormat)i;
        return i >= 0;
    }

    public const string Tried = "trace-cmd trace.dat (magic 17 08 44 'tracing'), perf.data ('PERFILE2'), events Parquet ('PAR1'), "
        + "ftrace text (comm-pid [cpu] flags ts: event:), ftrace latency format, trace-cmd report text, perf script text, canonical-events CSV";

    /// <summary>Returns the format and, for text, the dialect; null when nothing matches. Empty input is ftrace (an empty trace).</summary>
    public static (InputFormat Format, TextDialect Dialect)? Detect(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("\x17\x08\x44tracing"u8)) return (InputFormat.TraceDat, default);
        if (head.StartsWith("PERFILE2"u8)) return (InputFormat.PerfData, default);
        if (head.StartsWith("PAR1"u8)) return (InputFormat.EventsParquet, default);
        if (head.IsEmpty) return (InputFormat.Ftrace, TextDialect.Ftrace);
        if (LooksBinary(head)) return null;

        int ftrace = 0, perf = 0, latency = 0, verbose = 0, lines = 0, comments = 0;
        bool cpusHeader = false, latencyHeader = false, csvHeader = false, padded = false;
        var rest = head;
        while (!rest.IsEmpty && lines < 400)
        {
            int nl = rest.IndexOf((byte)'\n');
            if (nl < 0 && rest.Length == head.Length && head.Length == TraceInput.PeekSize) break;
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? default : rest[(nl + 1)..];
            if (nl < 0 && head.Length == TraceInput.PeekSize) break; // incomplete last line of the peek window
            if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
            if (line.IsEmpty) continue;
            lines++;
            if (lines == 1 && line.IndexOf("ts_ns"u8) >= 0 && line.IndexOf("kind"u8) >= 0 && line.IndexOf((byte)',') >= 0) { csvHeader = true; break; }
            if (line[0] == '#')
            {
                comments++;
                if (line.IndexOf("latency trace v"u8) >= 0) latencyHeader = true;
                continue;
            }
            if (line.StartsWith("cpus="u8)) { cpusHeader = true; continue; }
            if (LineTokenizer.TryTokenize(line, TextDialect.PerfScript, out _)) perf++;
            else if (LineTokenizer.TryTokenize(line, TextDialect.Ftrace, out var t))
            {
                ftrace++;
                if (t.Event.Length < 20 && line.IndexOf(":  "u8) >= 0) padded = true;
            }
            else if (LineTokenizer.TryTokenize(line, TextDialect.LatencyVerbose, out _)) verbose++;
            else if (LineTokenizer.TryTokenize(line, TextDialect.Latency, out _)) latency++;
        }
        if (csvHeader) return (InputFormat.Csv, default);
        int best = Math.Max(Math.Max(ftrace, perf), Math.Max(latency, verbose));
        if (best == 0)
        {
            // Only comments (an empty tracefs buffer) or a trace-cmd header: a valid, empty trace.
            if (lines == comments + (cpusHeader ? 1 : 0) && lines > 0) return (cpusHeader ? InputFormat.TraceCmdReport : InputFormat.Ftrace, TextDialect.Ftrace);
            return null;
        }
        if (perf == best) return (InputFormat.PerfScript, TextDialect.PerfScript);
        if (ftrace == best) return cpusHeader || padded ? (InputFormat.TraceCmdReport, TextDialect.TraceCmdReport) : (InputFormat.Ftrace, TextDialect.Ftrace);
        if (verbose == best) return (InputFormat.Ftrace, TextDialect.LatencyVerbose);
        return (latencyHeader || !cpusHeader ? InputFormat.Ftrace : InputFormat.TraceCmdReport, TextDialect.Latency);
    }

    static bool LooksBinary(ReadOnlySpan<byte> head)
    {
        var probe = head.Length > 4096 ? head[..4096] : head;
        int bad = 0;
        foreach (byte b in probe) if (b == 0 || (b < 0x20 && b != '\n' && b != '\r' && b != '\t')) bad++;
        return bad > probe.Length / 100;
    }
}
