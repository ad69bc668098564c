using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Machines;

/// <summary>Which kernel entries a trace shows, and so which entry model the replay runs (<see cref="KernelEntries"/>,
/// docs/model.md §8.7).</summary>
internal static class TracedEntries
{
    /// <summary>Which kernel entries the trace shows (<see cref="KernelEntries"/>), said in the assumptions.</summary>
    public static (bool Syscalls, bool Faults) Of(long[] counts, List<string> assumptions)
    {
        bool syscalls = counts[(int)EventKind.SysEnter] > 0 && counts[(int)EventKind.SysExit] > 0;
        bool faults = counts[(int)EventKind.PageFaultUser] > 0;
        // Machine takes every kvm_exit as an entry whatever else the trace has, so the sentence says so.
        string guests = counts[(int)EventKind.KvmExit] > 0 ? ", and the traced KVM guest exits (kvm_exit; kvm_entry returns to the guest)" : "";
        if (syscalls && faults)
            assumptions.Add("kernel entries: the traced system calls and user page faults" + guests + ", one asi_exit at most per entry");
        else
            assumptions.Add("kernel entries inferred (one asi_exit at most per entry): "
                + (syscalls ? "the traced system calls" : "each traced read/write system call, and the first event of a task on a CPU after another task ran there or after a context switch")
                + (faults ? ", and the traced user page faults" : ", and each user-page allocation outside a system call (taken as a page fault of its own)")
                + guests
                + "; record with asitrace record, which traces raw_syscalls and exceptions:page_fault_user");
        assumptions.Add("address spaces: the trace names tasks, not mms, so each task stands for its own mm (threads of one process count as different mms); kernel threads (by name) have no restricted address space");
        return (syscalls, faults);
    }

    /// <summary>How the entries were counted, for <see cref="ReplayResult.KernelEntriesBasis"/>.</summary>
    public static string Basis((bool Syscalls, bool Faults) facts, long[] counts) =>
        facts.Syscalls && facts.Faults ? "traced"
        : facts.Syscalls || facts.Faults || counts[(int)EventKind.KvmExit] > 0 ? "partly inferred"
        : "inferred";

    /// <summary><c>--knob InferEntries=true</c>: the trace's raw and other system-call entries, returns and user faults
    /// are ignored and the entries inferred, as for a recording with only the read/write entries.</summary>
    public static (bool Syscalls, bool Faults) Ignore(long[] counts, List<string> assumptions)
    {
        var none = new long[counts.Length];
        none[(int)EventKind.KvmExit] = counts[(int)EventKind.KvmExit]; // guest exits stay entries (Machine.Handle)
        var facts = Of(none, assumptions);
        assumptions.Add($"InferEntries: the trace's {counts[(int)EventKind.SysEnter]:N0} raw and other system-call entries, {counts[(int)EventKind.SysExit]:N0} returns and {counts[(int)EventKind.PageFaultUser]:N0} user faults are ignored (its read/write entries are kept, as in a recording made with only those)");
        return facts;
    }
}
