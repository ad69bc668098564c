using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// One canonical event: the union of the columns of every kind (docs/formats.md §13).
/// Blittable and fixed-size so readers fill pooled arrays of it without allocating; which columns are
/// meaningful is given by <see cref="Fields"/>. <see cref="CommId"/> indexes the reader's <see cref="CommTable"/>.
/// </summary>
/// <remarks>
/// Columns no kind carries together share storage, so an event is 64 bytes (one cache line): every pass of a replay
/// streams hundreds of millions of them, and the copy and the cache misses scale with the size (BENCHMARKS.md).
/// Sharing: <c>gfp</c> (page events), <c>tlb_pages</c> (tlb_flush), <c>bytes</c>
/// (sys_read/sys_write), <c>lost</c> (lost_events), <c>ino</c> (filemap) and <c>prev_state</c> (sched_switch);
/// <c>dev</c> (filemap) and <c>prev_pid</c> (sched_switch); <c>next_pid</c> (sched_switch) and the four
/// mm_page_alloc_extfrag columns. So a field is only meaningful when <see cref="Fields"/> has it (reading another kind's
/// field gives this kind's bytes), a reader sets only the fields its source printed, and a row that sets two columns
/// sharing storage is bad input (<see cref="SharedColumnsClash"/>).
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct TraceEvent
{
    /// <summary>Timestamp in ns on the trace's clock (for non-ns clocks: the raw counter value).</summary>
    [FieldOffset(0)] public long TsNs;
    [FieldOffset(8)] public ulong Pfn;
    /// <summary>gfp flags in the canonical layout (<see cref="Canonical.Gfp"/>).</summary>
    [FieldOffset(16)] public ulong Gfp;
    /// <summary>tlb_flush pages; -1 = full flush (TLB_FLUSH_ALL).</summary>
    [FieldOffset(16)] public long TlbPages;
    /// <summary>sys_read/sys_write: bytes requested (<c>count</c>).</summary>
    [FieldOffset(16)] public long Bytes;
    /// <summary>Events the kernel dropped at this point (lost_events rows); -1 when the count is unknown.</summary>
    [FieldOffset(16)] public long Lost;
    /// <summary>mm_migrate_pages: <c>nr_succeeded</c>.</summary>
    [FieldOffset(16)] public long MigratedPages;
    [FieldOffset(16)] public ulong Ino;
    /// <summary>sched_switch prev_state in the canonical (6.18) task-state bit layout; see <c>SchedState</c>.</summary>
    [FieldOffset(16)] public long PrevState;
    /// <summary>Page-cache index in pages (the kernel's folio index).</summary>
    [FieldOffset(24)] public ulong Index;
    [FieldOffset(32)] public EventFields Fields;
    [FieldOffset(36)] public int Pid;
    [FieldOffset(40)] public int CommId;
    /// <summary>Indexes the call-site table of <c>ingest --stacks</c>; set with <see cref="EventFields.CallSite"/>.</summary>
    [FieldOffset(44)] public int CallSiteId;
    /// <summary>The kernel's internal dev_t: major &lt;&lt; 20 | minor.</summary>
    [FieldOffset(48)] public uint Dev;
    [FieldOffset(48)] public int PrevPid;
    [FieldOffset(52)] public int NextPid;
    [FieldOffset(52)] public sbyte FallbackOrder;
    [FieldOffset(53)] public sbyte AllocMigratetype;
    [FieldOffset(54)] public sbyte FallbackMigratetype;
    [FieldOffset(55)] public byte ChangeOwnership;
    [FieldOffset(56)] public ushort Cpu;
    [FieldOffset(58)] public EventKind Kind;
    [FieldOffset(59)] public byte Order;
    [FieldOffset(60)] public sbyte Migratetype;
    [FieldOffset(61)] public byte PercpuRefill;
    [FieldOffset(62)] public byte TlbReason;
    /// <summary>mm_migrate_pages: <c>enum migrate_reason</c>.</summary>
    [FieldOffset(62)] public byte MigrateReason;

    public readonly bool Has(EventFields f) => (Fields & f) == f;

    /// <summary>The columns stored in the same eight bytes (one of them per event).</summary>
    public const EventFields SharedWord = EventFields.Gfp | EventFields.TlbPages | EventFields.Bytes | EventFields.Lost
        | EventFields.Ino | EventFields.PrevState | EventFields.MigratedPages;
    const EventFields Extfrag = EventFields.FallbackOrder | EventFields.AllocMigratetype | EventFields.FallbackMigratetype
        | EventFields.ChangeOwnership;

    /// <summary>Does <paramref name="fields"/> hold two columns that share storage (a row no traced kind produces)?
    /// Cheap enough for every row of a file; <see cref="SharedColumnsClash"/> names them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ColumnsClash(EventFields fields) =>
        BitOperations.PopCount((uint)(fields & SharedWord)) > 1
        || (fields & (EventFields.Dev | EventFields.PrevPid)) == (EventFields.Dev | EventFields.PrevPid)
        || (fields & (EventFields.TlbReason | EventFields.MigrateReason)) == (EventFields.TlbReason | EventFields.MigrateReason)
        || ((fields & EventFields.NextPid) != 0 && (fields & Extfrag) != 0);

    /// <summary>The names of the columns sharing storage that <paramref name="fields"/> holds together, for the reader's
    /// error message; null when they fit (<see cref="ColumnsClash"/>).</summary>
    public static string? SharedColumnsClash(EventFields fields)
    {
        if (!ColumnsClash(fields)) return null;
        EventFields clash;
        if (BitOperations.PopCount((uint)(fields & SharedWord)) > 1) clash = fields & SharedWord;
        else if ((fields & (EventFields.Dev | EventFields.PrevPid)) == (EventFields.Dev | EventFields.PrevPid)) clash = EventFields.Dev | EventFields.PrevPid;
        else if ((fields & (EventFields.TlbReason | EventFields.MigrateReason)) == (EventFields.TlbReason | EventFields.MigrateReason))
            clash = EventFields.TlbReason | EventFields.MigrateReason;
        else clash = EventFields.NextPid | (fields & Extfrag);
        var names = new List<string>();
        for (uint bits = (uint)clash; bits != 0; bits &= bits - 1)
            names.Add(ColumnName((EventFields)(bits & (uint)-(int)bits)));
        return string.Join(" and ", names);
    }

    /// <summary>The column of one field as the schema names it (TlbPages → tlb_pages).</summary>
    static string ColumnName(EventFields field)
    {
        var sb = new StringBuilder();
        foreach (char c in field.ToString())
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
