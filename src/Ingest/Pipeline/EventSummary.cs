using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>What <c>stats</c> reports: events per kind as they appear (no de-duplication), CPUs, time span, lost events.</summary>
public sealed class EventSummary
{
    public long Events;
    public readonly long[] ByKind = new long[EventKinds.Count];
    public long LostEvents;
    public long LostMarkersUnknownCount;
    public long FirstTs = long.MaxValue, LastTs = long.MinValue;
    readonly bool[] _cpus = new bool[ushort.MaxValue + 1];
    public int CpusSeen;

    public void Add(ReadOnlySpan<TraceEvent> events)
    {
        foreach (ref readonly var e in events)
        {
            ByKind[(int)e.Kind]++;
            if (e.Kind == EventKind.LostEvents)
            {
                if (e.Lost > 0) LostEvents += e.Lost; else LostMarkersUnknownCount++;
                continue;
            }
            Events++;
            if (e.TsNs < FirstTs) FirstTs = e.TsNs;
            if (e.TsNs > LastTs) LastTs = e.TsNs;
            if (!_cpus[e.Cpu]) { _cpus[e.Cpu] = true; CpusSeen++; }
        }
    }
}
