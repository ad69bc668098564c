using AsiTrace.Ingest;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary>Opens one or several inputs as one time-ordered stream.</summary>
static class InputSet
{
    public static IEventReader Open(IReadOnlyList<string> paths, IngestOptions options)
    {
        if (paths.Count == 1) return TraceOpener.Open(paths[0], options);
        var readers = new List<IEventReader>();
        try
        {
            foreach (var p in paths) readers.Add(TraceOpener.Open(p, options));
            return new MultiInputReader(readers);
        }
        catch
        {
            foreach (var r in readers) r.Dispose();
            throw;
        }
    }

    public static long? TotalBytes(IReadOnlyList<string> paths)
    {
        long total = 0;
        foreach (var p in paths)
        {
            if (p == "-" || Directory.Exists(p)) return null;
            if (!File.Exists(p)) return null;
            total += new FileInfo(p).Length;
        }
        return total;
    }
}
