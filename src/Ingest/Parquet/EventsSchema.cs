using Parquet.Schema;

namespace AsiTrace.Ingest.Parquet;

/// <summary>
/// The columns of the canonical events file (docs/formats.md §13), in file order. Names are the contract; the
/// writer (<see cref="EventsParquetWriter"/>) declares each with the physical and logical type Parquet.Net maps to
/// these fields, and the reader reads them through these fields.
/// </summary>
public static class EventsSchema
{
    public static readonly DataField<long> TsNs = new("ts_ns");
    public static readonly DataField<ushort> Cpu = new("cpu");
    public static readonly DataField<int?> Pid = new("pid");
    public static readonly DataField<string> Comm = new("comm", true);
    public static readonly DataField<string> Kind = new("kind", false);
    public static readonly DataField<ulong?> Pfn = new("pfn");
    public static readonly DataField<byte?> Order = new("order");
    public static readonly DataField<ulong?> Gfp = new("gfp");
    public static readonly DataField<sbyte?> Migratetype = new("migratetype");
    public static readonly DataField<bool?> PercpuRefill = new("percpu_refill");
    public static readonly DataField<sbyte?> FallbackOrder = new("fallback_order");
    public static readonly DataField<sbyte?> AllocMigratetype = new("alloc_migratetype");
    public static readonly DataField<sbyte?> FallbackMigratetype = new("fallback_migratetype");
    public static readonly DataField<bool?> ChangeOwnership = new("change_ownership");
    public static readonly DataField<byte?> TlbReason = new("tlb_reason");
    public static readonly DataField<long?> TlbPages = new("tlb_pages");
    public static readonly DataField<int?> PrevPid = new("prev_pid");
    public static readonly DataField<int?> NextPid = new("next_pid");
    public static readonly DataField<long?> PrevState = new("prev_state");
    public static readonly DataField<ulong?> Ino = new("ino");
    public static readonly DataField<ulong?> Index = new("index");
    public static readonly DataField<uint?> Dev = new("dev");
    public static readonly DataField<long?> Lost = new("lost");
    /// <summary>sys_read/sys_write: bytes requested. Files written before the column existed read it as null.</summary>
    public static readonly DataField<long?> Bytes = new("bytes");
    /// <summary>mm_migrate_pages: pages migrated, and <c>enum migrate_reason</c>. Older files read them as null.</summary>
    public static readonly DataField<long?> MigratedPages = new("migrated_pages");
    public static readonly DataField<byte?> MigrateReason = new("migrate_reason");
    /// <summary>Decoded names for SQL without this tool: gfp as the kernel printed it (<c>GFP_HIGHUSER_MOVABLE|__GFP_ZERO</c>)
    /// and the migratetype's name (<c>Movable</c>, as in /proc/pagetypeinfo). Written for convenience; readers ignore them.</summary>
    public static readonly DataField<string> GfpNames = new("gfp_names", true);
    public static readonly DataField<string> MigratetypeName = new("migratetype_name", true);
    /// <summary>Optional: present only in files made with <c>ingest --stacks</c>.</summary>
    public static readonly DataField<string> CallSite = new("call_site", true);

    /// <summary>Parquet.Net reads a column only through a field attached to a schema: these attach the fields above
    /// (the reader resolves each column by path, so either schema serves files with or without <c>call_site</c>).</summary>
    public static readonly ParquetSchema Schema = new(TsNs, Cpu, Pid, Comm, Kind, Pfn, Order, Gfp, Migratetype, PercpuRefill,
        FallbackOrder, AllocMigratetype, FallbackMigratetype, ChangeOwnership, TlbReason, TlbPages, PrevPid, NextPid, PrevState,
        Ino, Index, Dev, Lost, Bytes, MigratedPages, MigrateReason, GfpNames, MigratetypeName);

    public static readonly ParquetSchema SchemaWithCallSite = new(TsNs, Cpu, Pid, Comm, Kind, Pfn, Order, Gfp, Migratetype, PercpuRefill,
        FallbackOrder, AllocMigratetype, FallbackMigratetype, ChangeOwnership, TlbReason, TlbPages, PrevPid, NextPid, PrevState,
        Ino, Index, Dev, Lost, Bytes, MigratedPages, MigrateReason, GfpNames, MigratetypeName, CallSite);

    /// <summary>Key-value metadata keys.</summary>
    public const string KeySourceFormat = "asitrace.source_format", KeyKernelRelease = "asitrace.kernel_release",
        KeyClock = "asitrace.clock", KeyCpus = "asitrace.cpus", KeyCounters = "asitrace.counters", KeyOtherEvents = "asitrace.other_events",
        KeyGfpTable = "asitrace.gfp_table", KeyInputs = "asitrace.inputs", KeyVersion = "asitrace.version",
        KeyTimestampsNs = "asitrace.timestamps_ns", KeyNotes = "asitrace.notes", KeyEvents = "asitrace.events";
}
