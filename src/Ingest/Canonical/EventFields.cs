namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// Which optional columns an event carries. A column absent from an event is null in Parquet/CSV.
/// Readers set exactly the fields the source printed: an old kernel that lacked a field leaves it unset
/// rather than inventing a value.
/// </summary>
[Flags]
public enum EventFields : uint
{
    None = 0,
    Pfn = 1 << 0,
    Order = 1 << 1,
    Gfp = 1 << 2,
    Migratetype = 1 << 3,
    PercpuRefill = 1 << 4,
    FallbackOrder = 1 << 5,
    AllocMigratetype = 1 << 6,
    FallbackMigratetype = 1 << 7,
    ChangeOwnership = 1 << 8,
    TlbReason = 1 << 9,
    TlbPages = 1 << 10,
    PrevPid = 1 << 11,
    NextPid = 1 << 12,
    PrevState = 1 << 13,
    Ino = 1 << 14,
    Index = 1 << 15,
    Dev = 1 << 16,
    Lost = 1 << 17,
    Comm = 1 << 18,
    Pid = 1 << 19,
    /// <summary>Call site from a perf script -g capture (<c>ingest --stacks</c>).</summary>
    CallSite = 1 << 20,
    /// <summary>Bytes a read/write syscall asked for (<c>count</c>).</summary>
    Bytes = 1 << 21,
}
