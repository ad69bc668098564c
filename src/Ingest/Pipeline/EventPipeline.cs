using System.Collections.Concurrent;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>
/// Moves events from a reader to a sink. <see cref="RunParallel"/> decodes on one thread and hands pooled chunks to the
/// sink on another (the Parquet encoder is the slower half: BENCHMARKS.md), with a bounded queue so memory stays flat.
/// </summary>
public static class EventPipeline
{
    public const int ChunkSize = 1 << 16;
    public const int SummaryChunkSize = 1 << 12;

    /// <summary>Decode-only: counts into <paramref name="summary"/> on the calling thread.</summary>
    public static void RunSummary(IEventReader reader, EventSummary summary, Action<long>? progress = null)
    {
        // Small enough to stay in L2 between the reader writing it and the summary reading it.
        var chunk = new TraceEvent[SummaryChunkSize];
        int n;
        while ((n = reader.Read(chunk)) > 0)
        {
            summary.Add(chunk.AsSpan(0, n));
            progress?.Invoke(reader.BytesConsumed);
        }
    }

    /// <summary>Decodes on a producer thread and calls <paramref name="sink"/> on this one, in order.</summary>
    public static void RunParallel(IEventReader reader, EventSummary summary, Action<ReadOnlyMemory<TraceEvent>> sink, Action<long>? progress = null)
    {
        const int depth = 4;
        var free = new ConcurrentBag<TraceEvent[]>();
        for (int i = 0; i < depth + 2; i++) free.Add(new TraceEvent[ChunkSize]);
        OnTwoThreads<(TraceEvent[] Buf, int N)>(depth,
            emit =>
            {
                while (true)
                {
                    if (!free.TryTake(out var buf)) buf = new TraceEvent[ChunkSize];
                    int n = reader.Read(buf);
                    if (n == 0) break;
                    emit((buf, n));
                }
            },
            chunk =>
            {
                summary.Add(chunk.Buf.AsSpan(0, chunk.N));
                sink(chunk.Buf.AsMemory(0, chunk.N));
                free.Add(chunk.Buf);
                progress?.Invoke(reader.BytesConsumed);
            });
    }

    /// <summary>
    /// Decodes and fills batches (e.g. Parquet row groups) on a producer thread and writes them with
    /// <paramref name="write"/> on this one, so the transposition runs beside the encoder. At most
    /// <paramref name="depth"/> + 2 batches exist: memory is bounded by the batch size, not the trace.
    /// </summary>
    public static void RunBatched<TBatch>(IEventReader reader, EventSummary summary, Func<TBatch> newBatch,
        Func<TBatch, ReadOnlySpan<TraceEvent>, int> fill, Func<TBatch, bool> isFull, Func<TBatch, bool> isEmpty,
        Action<TBatch> write, Action<long>? progress = null, int depth = 1) where TBatch : class
    {
        var free = new ConcurrentBag<TBatch>();
        OnTwoThreads<TBatch>(depth,
            emit =>
            {
                var chunk = new TraceEvent[ChunkSize];
                TBatch batch = free.TryTake(out var b) ? b : newBatch();
                int n;
                while ((n = reader.Read(chunk)) > 0)
                {
                    summary.Add(chunk.AsSpan(0, n));
                    int off = 0;
                    while (off < n)
                    {
                        off += fill(batch, chunk.AsSpan(off, n - off));
                        if (isFull(batch))
                        {
                            emit(batch);
                            batch = free.TryTake(out var next) ? next : newBatch();
                        }
                    }
                }
                if (!isEmpty(batch)) emit(batch);
            },
            batch =>
            {
                write(batch);
                free.Add(batch);
                progress?.Invoke(reader.BytesConsumed);
            });
    }

    /// <summary>
    /// Runs <paramref name="produce"/> on a decode thread, handing items through a queue of <paramref name="depth"/> to
    /// <paramref name="consume"/> on this one, in order. A failure on either side stops both and is rethrown here.
    /// </summary>
    static void OnTwoThreads<T>(int depth, Action<Action<T>> produce, Action<T> consume)
    {
        using var full = new BlockingCollection<T>(depth);
        Exception? producerError = null;
        using var cancel = new CancellationTokenSource();
        var producer = new Thread(() =>
        {
            try { produce(item => full.Add(item, cancel.Token)); }
            catch (OperationCanceledException) { }
            catch (Exception e) { producerError = e; }
            finally { full.CompleteAdding(); }
        }) { IsBackground = true, Name = "asitrace-decode" };
        producer.Start();
        try
        {
            foreach (var item in full.GetConsumingEnumerable()) consume(item);
        }
        finally
        {
            // If the consumer threw, stop the producer before leaving.
            cancel.Cancel();
            producer.Join();
        }
        if (producerError is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(producerError).Throw();
    }
}
