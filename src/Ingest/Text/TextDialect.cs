namespace AsiTrace.Ingest.Text;

/// <summary>
/// The line layouts of the text formats (docs/formats.md §2, §5, §6). <see cref="Ftrace"/> covers tracefs
/// <c>trace</c>/<c>trace_pipe</c> and <c>trace-cmd report</c> (default and <c>-R</c>), which share the
/// <c>comm-pid [cpu]</c> layout; the latency layouts have no brackets; perf script separates comm and tid by spaces.
/// </summary>
public enum TextDialect : byte
{
    Ftrace,
    TraceCmdReport,
    /// <summary><c>latency-format=1</c> or <c>trace-cmd report -l</c>: <c>comm-pid cpuFLAGS time: event: text</c>.</summary>
    Latency,
    /// <summary><c>latency-format=1</c> with <c>verbose=1</c>: <c>comm pid cpu flags preempt idx [ts] ms (+ms): event: text</c>.</summary>
    LatencyVerbose,
    PerfScript,
}
