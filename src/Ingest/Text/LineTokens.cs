namespace AsiTrace.Ingest.Text;

/// <summary>The common columns of one event line, as offsets into the line (no copies).</summary>
public ref struct LineTokens
{
    public ReadOnlySpan<byte> Comm;
    public ReadOnlySpan<byte> Event;
    public ReadOnlySpan<byte> Text;
    public long TsNs;
    public int Pid;
    public int Cpu;
    public bool TsIsNs;
    /// <summary>Latency format: time is µs relative to the first event.</summary>
    public bool TsRelative;
}
