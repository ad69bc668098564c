using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// One canonical event: the union of the columns of every kind (design.md, "Canonical event stream").
/// Blittable and fixed-size so readers fill pooled arrays of it without allocating; which columns are
/// meaningful is given by <see cref="Fields"/>. <see cref="CommId"/> indexes the reader's <see cref="CommTable"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TraceEvent
{
    /// <summary>Timestamp in ns on the trace's clock (for non-ns clocks: the raw counter value).</summary>
    public long TsNs;
    public ulong Pfn;
    /// <summary>gfp flags in the canonical layout (<see cref="Gfp"/>).</summary>
    public ulong Gfp;
    /// <summary>tlb_flush pages; -1 = full flush (TLB_FLUSH_ALL).</summary>
    public long TlbPages;
    /// <summary>sys_read/sys_write: bytes requested (<c>count</c>).</summary>
    public long Bytes;
    /// <summary>Events the kernel dropped at this point (lost_events rows); -1 when the count is unknown.</summary>
    public long Lost;
    public ulong Ino;
    /// <summary>Page-cache index in pages (the kernel's folio index).</summary>
    public ulong Index;
    /// <summary>sched_switch prev_state in the canonical (6.18) task-state bit layout; see <c>SchedState</c>.</summary>
    public long PrevState;
    /// <summary>The kernel's internal dev_t: major &lt;&lt; 20 | minor.</summary>
    public uint Dev;
    public int Pid;
    public int PrevPid;
    public int NextPid;
    public int CommId;
    /// <summary>Indexes the call-site table of <c>ingest --stacks</c>; set with <see cref="EventFields.CallSite"/>.</summary>
    public int CallSiteId;
    public EventFields Fields;
    public ushort Cpu;
    public EventKind Kind;
    public byte Order;
    public sbyte Migratetype;
    public byte PercpuRefill;
    public sbyte FallbackOrder;
    public sbyte AllocMigratetype;
    public sbyte FallbackMigratetype;
    public byte ChangeOwnership;
    public byte TlbReason;

    public readonly bool Has(EventFields f) => (Fields & f) == f;
}
