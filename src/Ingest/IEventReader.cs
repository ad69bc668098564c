using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest;

/// <summary>
/// One reader per input format (style.md, rule 1). Fills caller-owned chunks of canonical events; allocates
/// nothing per event. Events come in the order the source gives them; <see cref="Sorting.TimestampMerger"/>
/// restores timestamp order across CPUs.
/// </summary>
public interface IEventReader : IDisposable
{
    TraceMetadata Metadata { get; }
    TraceStats Stats { get; }
    CommTable Comms { get; }
    /// <summary>The call sites <c>ingest --stacks</c> gave the events (<see cref="TraceEvent.CallSiteId"/> indexes it); null
    /// when the input has none.</summary>
    CommTable? CallSites => null;
    /// <summary>Fills <paramref name="dest"/> from the start; returns the number of events, 0 at the end.</summary>
    int Read(Span<TraceEvent> dest);
    /// <summary>Input bytes consumed so far (compressed bytes for compressed files), for progress and MB/s.</summary>
    long BytesConsumed { get; }
}

/// <summary>A reader whose events already come in timestamp order (it merges its per-CPU streams itself, or reads an
/// events file), so the opener does not put the bounded merger in front of it.</summary>
public interface IOrderedEventReader : IEventReader;

/// <summary>A reader that can leave out fields a consumer never looks at (a pre-scan needs a handful of columns of a
/// wide file). Events then lack those fields (<see cref="TraceEvent.Fields"/> says so and their values are 0).
/// Timestamp, CPU and kind are always read.</summary>
public interface IFieldProjection
{
    /// <param name="fields">the optional fields to decode; the rest are skipped.</param>
    /// <param name="comms">decode task names (and call sites) too.</param>
    void OnlyFields(EventFields fields, bool comms);
}
