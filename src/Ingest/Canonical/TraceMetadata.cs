namespace AsiTrace.Ingest.Canonical;

/// <summary>What a reader learned about the trace as a whole; stored as Parquet key-value metadata.</summary>
public sealed class TraceMetadata
{
    /// <summary>Reader that produced the events: ftrace, trace-cmd-report, perf-script, csv, events-parquet, …</summary>
    public string SourceFormat { get; set; } = "unknown";
    public string? KernelRelease { get; set; }
    /// <summary>Trace clock (<c>local</c>, <c>perf</c>, <c>x86-tsc</c>, …) or null when the source does not say.</summary>
    public string? Clock { get; set; }
    /// <summary>Whether timestamps are nanoseconds (false for counter, uptime and x86-tsc clocks).</summary>
    public bool TimestampsAreNs { get; set; } = true;
    public int CpuCount { get; set; }
    /// <summary>Where the gfp table came from: the trace's own format (<c>format:…</c>) or a built-in era table.</summary>
    public string? GfpTable { get; set; }
    /// <summary>The table itself when the reader decoded names or raw kernel values with it (not stored): the events
    /// file's <c>gfp_names</c> are rendered through it, as the kernel printed them.</summary>
    public GfpTable? GfpFlags { get; set; }
    public List<string> Inputs { get; } = new();
    public List<string> Notes { get; } = new();
}
