namespace AsiTrace.Ingest.Input;

/// <summary>
/// The input is not a trace we can read, or is structurally broken. Carries the file and the position so
/// the CLI can say exactly where (exit code 3). Local problems (one bad line) are counted, not thrown.
/// </summary>
public sealed class InvalidTraceException(string file, string where, string message)
    : Exception($"{file}: {where}: {message}")
{
    public string File { get; } = file;
    public string Where { get; } = where;
}
