namespace AsiTrace.Ingest.Csv;

/// <summary>CSV columns: the names of the events schema, in schema order (docs/formats.md §13). Empty cell = null.</summary>
public static class CsvColumns
{
    public static readonly string[] All =
    [
        "ts_ns", "cpu", "pid", "comm", "kind", "pfn", "order", "gfp", "migratetype", "percpu_refill", "fallback_order",
        "alloc_migratetype", "fallback_migratetype", "change_ownership", "tlb_reason", "tlb_pages", "prev_pid", "next_pid",
        "prev_state", "ino", "index", "dev", "lost", "bytes", "migrated_pages", "migrate_reason",
    ];
    public const int TsNs = 0, Cpu = 1, Pid = 2, Comm = 3, Kind = 4, Pfn = 5, Order = 6, Gfp = 7, Migratetype = 8, PercpuRefill = 9,
        FallbackOrder = 10, AllocMigratetype = 11, FallbackMigratetype = 12, ChangeOwnership = 13, TlbReason = 14, TlbPages = 15,
        PrevPid = 16, NextPid = 17, PrevState = 18, Ino = 19, Index = 20, Dev = 21, Lost = 22, Bytes = 23,
        MigratedPages = 24, MigrateReason = 25;
}
