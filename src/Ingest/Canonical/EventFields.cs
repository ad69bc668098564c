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
    /// <summary>mm_migrate_pages: pages migrated (<c>nr_succeeded</c>).</summary>
    MigratedPages = 1 << 22,
    /// <summary>mm_migrate_pages: <c>enum migrate_reason</c> (<see cref="MigrateReasons"/>).</summary>
    MigrateReason = 1 << 23,
}

/// <summary><c>enum migrate_reason</c> (include/linux/migrate_mode.h) as <c>MIGRATE_REASON</c> prints it
/// (include/trace/events/migrate.h). The values have kept their order since the enum was introduced; MR_COMPACTION is 0.</summary>
public static class MigrateReasons
{
    public const byte Compaction = 0, Unknown = 255;

    static readonly string[] Names =
        ["compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset", "mempolicy_mbind", "numa_misplaced", "contig_range",
         "longterm_pin", "demotion", "damon"];

    public static string Name(byte reason) => reason < Names.Length ? Names[reason] : reason.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The printed name, or a number, to the enum value; <see cref="Unknown"/> for a name this table lacks.</summary>
    public static byte Parse(ReadOnlySpan<byte> text)
    {
        for (int i = 0; i < Names.Length; i++)
            if (text.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(Names[i]))) return (byte)i;
        return System.Buffers.Text.Utf8Parser.TryParse(text, out byte v, out int used) && used == text.Length ? v : Unknown;
    }
}
