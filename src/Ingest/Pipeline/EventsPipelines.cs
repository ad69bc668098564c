using AsiTrace.Ingest.Parquet;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>The ingest pipelines the CLI and the benchmarks share.</summary>
public static class EventsPipelines
{
    /// <summary>Decode and fill row groups on one thread, encode them on this one.</summary>
    public static void ToParquet(IEventReader reader, EventSummary summary, EventsParquetWriter writer, Action<long>? progress = null)
    {
        EventPipeline.RunBatched(reader, summary, writer.NewRowGroup,
            (g, events) => g.Fill(events, reader.Comms), g => g.IsFull, g => g.Count == 0,
            g => writer.WriteRowGroupAsync(g).AsTask().GetAwaiter().GetResult(), progress);
    }
}
