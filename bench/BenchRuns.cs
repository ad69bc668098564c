using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Bench;

/// <summary>What <c>stats</c> and <c>ingest</c> do, minus the CLI: shared by the benchmark classes.</summary>
static class BenchRuns
{
    public static long Stats(string path)
    {
        using var reader = TraceOpener.Open(path, new IngestOptions());
        var summary = new EventSummary();
        EventPipeline.RunSummary(reader, summary);
        return summary.Events;
    }

    public static long IngestToParquet(string path, string output)
    {
        using var reader = TraceOpener.Open(path, new IngestOptions());
        var summary = new EventSummary();
        using var fs = File.Create(output);
        var writer = EventsParquetWriter.CreateAsync(fs).GetAwaiter().GetResult();
        EventsPipelines.ToParquet(reader, summary, writer);
        writer.CompleteAsync(reader.Metadata, reader.Stats).AsTask().GetAwaiter().GetResult();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return summary.Events;
    }
}
