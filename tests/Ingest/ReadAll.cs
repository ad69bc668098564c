using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Tests.Ingest;

static class ReadAll
{
    public static (List<TraceEvent> Events, IEventReader Reader) Path(string path, IngestOptions? options = null)
    {
        var reader = TraceOpener.Open(path, options ?? new IngestOptions());
        return (Drain(reader), reader);
    }

    public static List<TraceEvent> Drain(IEventReader reader)
    {
        var list = new List<TraceEvent>();
        var buf = new TraceEvent[1000];
        int n;
        while ((n = reader.Read(buf)) > 0) for (int i = 0; i < n; i++) list.Add(buf[i]);
        return list;
    }

    /// <summary>Decodes text lines with an explicit dialect (no detection), for per-version line tests.</summary>
    public static (List<TraceEvent> Events, TextTraceReader Reader) Text(string text, TextDialect dialect, string era = GfpEras.Latest)
    {
        var input = TraceInput.FromStream("test", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)));
        var reader = new TextTraceReader(input, dialect, GfpEras.Table(era));
        return (Drain(reader), reader);
    }

    /// <summary>Raw lines of a sample file (gzip by magic), without the newline.</summary>
    public static IEnumerable<byte[]> Lines(string path)
    {
        using var input = TraceInput.Open(path);
        var lines = new LineReader(input.Stream);
        while (lines.TryReadLine(out var line)) yield return line.ToArray();
    }
}
