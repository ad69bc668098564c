namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// Kinds of canonical events, named after the tracepoint that produced them (docs/formats.md §13).
/// The numeric values are stable: they are what the in-memory stream carries; files store the names.
/// </summary>
public enum EventKind : byte
{
    None = 0,
    MmPageAlloc = 1,
    MmPageAllocZoneLocked = 2,
    MmPageFree = 3,
    MmPageFreeBatched = 4,
    MmPagePcpuDrain = 5,
    MmPageAllocExtfrag = 6,
    TlbFlush = 7,
    SchedSwitch = 8,
    MmFilemapAddToPageCache = 9,
    MmFilemapDeleteFromPageCache = 10,
    LostEvents = 11,
    /// <summary><c>syscalls:sys_enter_read</c>/<c>sys_enter_pread64</c>: a read of <c>count</c> bytes (page-cache copies under ASI).</summary>
    SysRead = 12,
    /// <summary><c>syscalls:sys_enter_write</c>/<c>sys_enter_pwrite64</c>.</summary>
    SysWrite = 13,
    /// <summary>A system call entry other than read/write: <c>raw_syscalls:sys_enter</c> or any <c>syscalls:sys_enter_*</c>
    /// (a kernel entry for the ASI state machine).</summary>
    SysEnter = 14,
    /// <summary>A system call's return: <c>raw_syscalls:sys_exit</c> or any <c>syscalls:sys_exit_*</c>.</summary>
    SysExit = 15,
    /// <summary><c>exceptions:page_fault_user</c> (x86): a user page fault, a kernel entry.</summary>
    PageFaultUser = 16,
    /// <summary><c>kvm:kvm_exit</c>: a guest exits to the host kernel (an entry of the vCPU task, in KVM's class).</summary>
    KvmExit = 17,
    /// <summary><c>kvm:kvm_entry</c>: the host enters the guest again (the return of that entry).</summary>
    KvmEntry = 18,
    /// <summary><c>migrate:mm_migrate_pages</c>: one <c>migrate_pages()</c> call: pages moved and why. Compaction's
    /// targets are free pages it took off the free lists itself, with no <c>mm_page_alloc</c>.</summary>
    MmMigratePages = 19,
}

public static class EventKinds
{
    /// <summary>Number of kinds including <see cref="EventKind.None"/>; arrays indexed by kind use this size.</summary>
    public const int Count = 20;

    static readonly string[] Names =
    [
        "none",
        "mm_page_alloc",
        "mm_page_alloc_zone_locked",
        "mm_page_free",
        "mm_page_free_batched",
        "mm_page_pcpu_drain",
        "mm_page_alloc_extfrag",
        "tlb_flush",
        "sched_switch",
        "mm_filemap_add_to_page_cache",
        "mm_filemap_delete_from_page_cache",
        "lost_events",
        "sys_read",
        "sys_write",
        "sys_enter",
        "sys_exit",
        "page_fault_user",
        "kvm_exit",
        "kvm_entry",
        "mm_migrate_pages",
    ];

    /// <summary>Does this event mark a kernel entry (a system call or a user page fault)?</summary>
    public static bool IsKernelEntry(EventKind kind) =>
        kind is EventKind.SysRead or EventKind.SysWrite or EventKind.SysEnter or EventKind.PageFaultUser or EventKind.KvmExit;

    public static string Name(EventKind kind) => Names[(int)kind];

    public static bool TryParse(ReadOnlySpan<char> name, out EventKind kind)
    {
        for (int i = 1; i < Names.Length; i++)
        {
            if (name.SequenceEqual(Names[i])) { kind = (EventKind)i; return true; }
        }
        kind = EventKind.None;
        return false;
    }

    /// <summary>
    /// Maps a tracepoint name as printed by any kernel since 2.6.3x to its canonical kind.
    /// Old names: <c>mm_page_free_direct</c> (≤ v3.2) is today's <c>mm_page_free</c>;
    /// <c>mm_pagevec_free</c> (≤ v3.2) is today's <c>mm_page_free_batched</c>
    /// (kernel commit b413d48aa704, "mm: page allocator: rename trace events", v3.3).
    /// </summary>
    public static EventKind FromTracepoint(ReadOnlySpan<byte> name)
    {
        // Dispatch on length first: it keeps this a handful of compares per event.
        switch (name.Length)
        {
            case 9: if (name.SequenceEqual("tlb_flush"u8)) return EventKind.TlbFlush; break;
            case 12: if (name.SequenceEqual("mm_page_free"u8)) return EventKind.MmPageFree; break;
            case 13: if (name.SequenceEqual("mm_page_alloc"u8)) return EventKind.MmPageAlloc; break;
            case 15: if (name.SequenceEqual("mm_pagevec_free"u8)) return EventKind.MmPageFreeBatched; break;
            case 18: if (name.SequenceEqual("mm_page_pcpu_drain"u8)) return EventKind.MmPagePcpuDrain; break;
            case 19: if (name.SequenceEqual("mm_page_free_direct"u8)) return EventKind.MmPageFree; break;
            case 20: if (name.SequenceEqual("mm_page_free_batched"u8)) return EventKind.MmPageFreeBatched; break;
            case 21: if (name.SequenceEqual("mm_page_alloc_extfrag"u8)) return EventKind.MmPageAllocExtfrag; break;
            case 25: if (name.SequenceEqual("mm_page_alloc_zone_locked"u8)) return EventKind.MmPageAllocZoneLocked; break;
            case 28: if (name.SequenceEqual("mm_filemap_add_to_page_cache"u8)) return EventKind.MmFilemapAddToPageCache; break;
            case 33: if (name.SequenceEqual("mm_filemap_delete_from_page_cache"u8)) return EventKind.MmFilemapDeleteFromPageCache; break;
        }
        if (name.SequenceEqual("sched_switch"u8)) return EventKind.SchedSwitch;
        if (name.SequenceEqual("page_fault_user"u8)) return EventKind.PageFaultUser;
        if (name.SequenceEqual("kvm_exit"u8)) return EventKind.KvmExit;
        if (name.SequenceEqual("kvm_entry"u8)) return EventKind.KvmEntry;
        if (name.SequenceEqual("mm_migrate_pages"u8)) return EventKind.MmMigratePages;
        // raw_syscalls: every system call's entry and return.
        if (name.SequenceEqual("sys_enter"u8)) return EventKind.SysEnter;
        if (name.SequenceEqual("sys_exit"u8)) return EventKind.SysExit;
        // Per-syscall events: trace-cmd and perf name them sys_enter_NAME / sys_exit_NAME; tracefs prints the entry as
        // "sys_NAME(fd: …)" and the return as "sys_NAME -> 0x…" (the reader tells those two apart by the text).
        if (name.Length >= 5 && name[0] == 's' && name.StartsWith("sys_"u8))
        {
            if (name.StartsWith("sys_exit_"u8)) return EventKind.SysExit;
            var n = name.StartsWith("sys_enter_"u8) ? name[10..] : name[4..];
            if (n.SequenceEqual("read"u8) || n.SequenceEqual("pread64"u8)) return EventKind.SysRead;
            if (n.SequenceEqual("write"u8) || n.SequenceEqual("pwrite64"u8)) return EventKind.SysWrite;
            return EventKind.SysEnter;
        }
        return EventKind.None;
    }
}
