using System.Text;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Makes a large trace from a small real one for benchmarks and scale tests: the event lines are repeated with every
/// timestamp shifted by the span of the original per copy, so the result stays in timestamp order and every line is a
/// real kernel line. Works on tracefs text (the <c>sec.usec:</c> column after the cpu/flags columns).
/// </summary>
public static class TraceTiler
{
    public static long Tile(string sourcePath, Stream output, long targetEvents)
    {
        var lines = File.ReadAllLines(sourcePath).Where(l => l.Length > 0 && l[0] != '#').ToArray();
        if (lines.Length == 0) throw new InvalidDataException($"{sourcePath}: no event lines");
        var parsed = new (string Prefix, long TsUs, string Suffix)[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            var l = lines[i];
            int colon = l.IndexOf(": ", l.IndexOf(']'), StringComparison.Ordinal);
            int start = l.LastIndexOf(' ', colon) + 1;
            var ts = l[start..colon].Split('.');
            parsed[i] = (l[..start], long.Parse(ts[0]) * 1_000_000 + long.Parse(ts[1]), l[colon..]);
        }
        long span = parsed.Max(p => p.TsUs) - parsed.Min(p => p.TsUs) + 1;
        using var w = new StreamWriter(output, new UTF8Encoding(false), 1 << 20, leaveOpen: true);
        w.WriteLine("# tracer: nop");
        long written = 0;
        for (long copy = 0; written < targetEvents; copy++)
        {
            foreach (var (prefix, ts, suffix) in parsed)
            {
                long t = ts + copy * span;
                w.Write(prefix);
                w.Write(t / 1_000_000);
                w.Write('.');
                w.Write((t % 1_000_000).ToString("D6"));
                w.WriteLine(suffix);
                if (++written == targetEvents) break;
            }
        }
        return written;
    }
}
