using System.Runtime.InteropServices;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Synth;

/// <summary>A synthetic trace read from memory, as a file of it would be read.</summary>
public sealed class SynthTraceReader(SynthTrace trace) : IOrderedEventReader
{
    int _pos;
    public TraceMetadata Metadata => trace.Metadata;
    public TraceStats Stats { get; } = new();
    public CommTable Comms => trace.Comms;
    public long BytesConsumed => _pos;

    public int Read(Span<TraceEvent> dest)
    {
        int n = Math.Min(dest.Length, trace.Events.Count - _pos);
        CollectionsMarshal.AsSpan(trace.Events).Slice(_pos, n).CopyTo(dest);
        _pos += n;
        return n;
    }

    public void Dispose() { }
}
