using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Machines;

/// <summary>What kind of kernel entry a CPU is in: what an <c>asi_exit</c> there is attributed to.</summary>
public enum EntryKind : byte { None, Syscall, Fault, GuestExit, Inferred }

/// <summary>Where the replay's kernel entries come from.</summary>
public enum EntryModel
{
    /// <summary>The trace has entry events (<c>raw_syscalls:sys_enter</c> or per-syscall entries, and
    /// <c>exceptions:page_fault_user</c>): each is one entry.</summary>
    Traced,
    /// <summary>The trace lacks system calls (entries and returns) or user faults: an entry begins at each traced entry
    /// event; without every system call, also at the first event of a task on a CPU after another task ran there (or
    /// after a context switch); without user faults, also at each allocation of a user page outside a system call (a
    /// page fault: anonymous and file faults allocate as they fault).</summary>
    Inferred,
}

/// <summary>
/// The kernel entries of the trace, per CPU, for the ASI state machine (docs/model.md §6.1): which task runs on each
/// CPU, whether it is inside a system call, which address space (mm) the CPU last ran, and which tasks are kernel
/// threads. The trace carries no mm: a task (pid) stands for its address space, so two threads of one process count as
/// two mms — an assumption the replay states.
/// </summary>
public sealed class KernelEntries
{
    // Linux's PID_MAX_LIMIT on 64-bit: pids above it do not exist.
    const int PidLimit = 1 << 22;
    const byte UnknownTask = 0, UserTask = 1, KernelThread = 2;
    readonly int[] _task, _mm;
    // Without traced returns: whether the CPU's current entry is a system call (until the next entry or task). With
    // them: per task, since a task blocked in a call resumes, perhaps elsewhere, and returns there.
    readonly bool[] _inSyscall;
    const byte NotSeen = 0, InCall = 1, BackInUser = 2;
    readonly byte[] _callState = new byte[PidLimit];
    readonly byte[] _taskKind = new byte[PidLimit];
    readonly bool _syscallsTraced, _faultsTraced;
    sbyte[] _commIsKernelThread = new sbyte[256];   // by comm id: 0 unknown, 1 kernel thread, −1 not

    /// <param name="syscallsTraced">the trace has system-call entries and returns of every call.</param>
    /// <param name="faultsTraced">the trace has <c>exceptions:page_fault_user</c>.</param>
    public KernelEntries(int cpus, bool syscallsTraced, bool faultsTraced)
    {
        _syscallsTraced = syscallsTraced; _faultsTraced = faultsTraced;
        Model = syscallsTraced && faultsTraced ? EntryModel.Traced : EntryModel.Inferred;
        int n = Math.Max(cpus, 1);
        _task = new int[n]; _mm = new int[n]; _inSyscall = new bool[n]; _switchedIn = new int[n]; _entryKind = new EntryKind[n];
        Array.Fill(_task, -1); Array.Fill(_mm, -1); Array.Fill(_switchedIn, -1);
    }

    public EntryModel Model { get; }
    /// <summary>Inconsistencies the replay went past: a system-call return on a CPU with no call in progress there.</summary>
    public long ReturnsWithoutEntry { get; private set; }
    /// <summary>Inconsistencies: a system call or fault of another task than the one the last context switch put on
    /// the CPU (a CPU running two tasks at once).</summary>
    public long TasksAtOnce { get; private set; }
    readonly int[] _switchedIn;
    readonly EntryKind[] _entryKind;

    /// <summary>The kind of entry <paramref name="cpu"/> is in now (what an exit there is paid by).</summary>
    public EntryKind CurrentKind(int cpu) => _entryKind[Slot(cpu)];
    /// <summary>Kernel entries of user tasks so far.</summary>
    public long Count { get; private set; }
    /// <summary>Task names by the reader's comm id; without it every task with a pid above 0 counts as a user task.</summary>
    public Func<int, string?>? CommOf { get; set; }

    int Slot(int cpu) => (int)((uint)cpu % (uint)_task.Length);

    /// <summary>A user task: not the idle task (pid 0) and not a kernel thread. An event without a pid (−1) is taken as
    /// a user task's: only user context allocates user pages.</summary>
    public bool IsUserTask(int pid) => pid != 0 && (pid < 0 || pid >= PidLimit || _taskKind[pid] != KernelThread);

    /// <summary>Learns from an event whether its task is a kernel thread (by its name, the first time the pid is seen).</summary>
    public void Learn(in TraceEvent e)
    {
        int pid = e.Pid;
        if ((uint)pid >= PidLimit || _taskKind[pid] != UnknownTask || !e.Has(EventFields.Comm)) return;
        _taskKind[pid] = IsKernelThreadComm(e.CommId) ? KernelThread : UserTask;
    }

    /// <summary>A task that entered through a system call or a user fault is a user task, whatever its name.</summary>
    void MarkUser(int pid)
    {
        if ((uint)pid < PidLimit) _taskKind[pid] = UserTask;
    }

    bool IsKernelThreadComm(int commId)
    {
        if (CommOf is null || commId < 0) return false;
        if (commId >= _commIsKernelThread.Length) Array.Resize(ref _commIsKernelThread, Math.Max(commId + 1, _commIsKernelThread.Length * 2));
        ref sbyte known = ref _commIsKernelThread[commId];
        if (known == 0) known = KernelThreadNames.Matches(CommOf(commId)) ? (sbyte)1 : (sbyte)-1;
        return known > 0;
    }

    /// <summary>An entry event of the trace (a system call or a user page fault) on <paramref name="cpu"/>. Returns
    /// whether it begins a new entry of a user task.</summary>
    public bool EntryEvent(int cpu, int pid, bool syscall, bool guest = false)
    {
        int s = Slot(cpu);
        MarkUser(pid);
        if (_switchedIn[s] >= 0 && pid >= 0 && pid != _switchedIn[s]) TasksAtOnce++;
        // raw_syscalls:sys_enter and the per-syscall sys_enter_NAME of one call are one entry (with the returns traced,
        // a task still inside a system call has not entered again).
        if (syscall && _syscallsTraced && InCallNow(s, pid)) return false;
        _task[s] = pid;
        _inSyscall[s] = syscall;
        _entryKind[s] = syscall ? EntryKind.Syscall : guest ? EntryKind.GuestExit : EntryKind.Fault;
        // A guest exit happens inside the vCPU task's KVM_RUN ioctl, so it leaves the task's system call open.
        if ((uint)pid < PidLimit && !guest) _callState[pid] = syscall ? InCall : BackInUser;
        _mm[s] = pid;
        Count++;
        return true;
    }

    /// <summary>Is <paramref name="pid"/>, running on CPU slot <paramref name="s"/>, inside a system call?</summary>
    bool InCallNow(int s, int pid) =>
        _syscallsTraced ? (uint)pid < PidLimit && _callState[pid] == InCall : _inSyscall[s] && _task[s] == pid;

    /// <summary>A system call of <paramref name="pid"/> returned on <paramref name="cpu"/>: the task is back in user space.
    /// A return of a task that already returned, with no entry between, is an inconsistency (counted; a first return
    /// is a call that began before the trace).</summary>
    public void Returned(int cpu, int pid)
    {
        int s = Slot(cpu);
        if ((uint)pid < PidLimit)
        {
            if (_syscallsTraced && _callState[pid] == BackInUser) ReturnsWithoutEntry++;
            _callState[pid] = BackInUser;
        }
        _inSyscall[s] = false;
        _entryKind[s] = EntryKind.None;
        if (_syscallsTraced) _task[s] = -1;
    }

    /// <summary>kvm:kvm_entry of <paramref name="pid"/> on <paramref name="cpu"/>: the host enters the guest again
    /// (<c>asi_enter()</c> before VMRUN/VMLAUNCH), which ends the guest exit's time in the kernel but not the KVM_RUN
    /// ioctl around it: that returns, to user space, only at its sys_exit.</summary>
    public void GuestEntered(int cpu, int pid)
    {
        int s = Slot(cpu);
        _entryKind[s] = EntryKind.None;
        if (_syscallsTraced && _task[s] == pid) _task[s] = -1;
    }

    /// <summary>Any other event of <paramref name="pid"/> on <paramref name="cpu"/>: when the trace does not show every
    /// system call, the first event of a task after another task ran there begins that task's time in the kernel.
    /// Returns null when nothing began, true for an entry of a user task, false when a kernel thread took over.</summary>
    public bool? OtherEvent(int cpu, int pid)
    {
        int s = Slot(cpu);
        if (_syscallsTraced || pid == _task[s]) return null;
        _task[s] = pid;
        _inSyscall[s] = false;
        _entryKind[s] = EntryKind.Inferred;
        if (!IsUserTask(pid)) return false;
        _mm[s] = pid;
        Count++;
        return true;
    }

    /// <summary>A user page allocated on <paramref name="cpu"/>: when the trace does not show user faults, outside a
    /// system call it is a page fault of its own. Returns whether an entry began.</summary>
    public bool UserPageAllocated(int cpu, int pid)
    {
        int s = Slot(cpu);
        if (_faultsTraced || InCallNow(s, pid) || !IsUserTask(pid)) return false;
        // A page the vCPU task allocates while its guest exit is handled (a nested page fault backing guest memory)
        // is that exit's work, not a fault of its own.
        if (_entryKind[s] == EntryKind.GuestExit && _task[s] == pid) return false;
        _task[s] = pid;
        _entryKind[s] = EntryKind.Inferred;
        _mm[s] = pid;
        Count++;
        return true;
    }

    /// <summary>A context switch on <paramref name="cpu"/> to <paramref name="nextPid"/>. Returns whether the CPU's
    /// address space changes: a kernel thread or the idle task borrows the previous mm (lazy TLB), so only a switch to
    /// another user task's mm counts.</summary>
    public bool Switch(int cpu, int nextPid)
    {
        int s = Slot(cpu);
        _task[s] = -1;
        _inSyscall[s] = false;
        _entryKind[s] = EntryKind.None;
        _switchedIn[s] = nextPid;
        if (!IsUserTask(nextPid)) return false;
        bool changes = _mm[s] != nextPid;
        _mm[s] = nextPid;
        return changes;
    }
}

/// <summary>Kernel threads by name: the per-CPU and system threads every kernel starts, and the common workqueues.</summary>
static class KernelThreadNames
{
    static readonly string[] Prefixes =
    [
        "swapper", "kworker/", "ksoftirqd/", "migration/", "rcu_", "rcuc/", "rcuog/", "rcuop/", "cpuhp/", "idle_inject/",
        "watchdog/", "irq/", "kswapd", "kcompactd", "khugepaged", "kthreadd", "kdamond", "oom_reaper", "writeback",
        "kblockd", "kauditd", "khungtaskd", "ksmd", "jbd2/", "kintegrityd", "kthrotld", "kdevtmpfs", "netns", "pool_workqueue",
    ];

    public static bool Matches(string? comm)
    {
        if (comm is null) return false;
        foreach (var p in Prefixes) if (comm.StartsWith(p, StringComparison.Ordinal)) return true;
        return false;
    }
}
