using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Pipeline;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary>read/write syscall entries (for page-cache copies under ASI): the three text renderings, exits skipped.</summary>
public class SyscallEventTests
{
    static List<TraceEvent> Read(string text)
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "t.txt");
        File.WriteAllText(path, text);
        using var r = TraceOpener.Open(path, new IngestOptions());
        var buf = new TraceEvent[64];
        var list = new List<TraceEvent>();
        int n;
        while ((n = r.Read(buf)) > 0) list.AddRange(buf.AsSpan(0, n).ToArray());
        return list;
    }

    [Fact]
    public void tracefs_prints_syscall_arguments_in_hex_without_a_prefix_and_exits_under_the_same_name()
    {
        var events = Read("""
# tracer: nop
#
             fio-2201    [001] .....   100.000001: sys_pread64(fd: 5, buf: 7f2a8c001000, count: 1000, pos: 3a000)
             fio-2201    [001] .....   100.000003: sys_pread64 -> 0x1000
             cat-2202    [000] .....   100.000004: sys_write(fd: 1, buf: 55d0c8e4e000, count: 20000)
""");
        Assert.Equal(3, events.Count);
        Assert.Equal(EventKind.SysRead, events[0].Kind);
        Assert.Equal(0x1000, events[0].Bytes);
        Assert.True(events[0].Has(EventFields.Bytes));
        // The return prints under the entry's name: a return, not a second read.
        Assert.Equal(EventKind.SysExit, events[1].Kind);
        Assert.False(events[1].Has(EventFields.Bytes));
        Assert.Equal(EventKind.SysWrite, events[2].Kind);
        Assert.Equal(0x20000, events[2].Bytes);
    }

    [Fact]
    public void raw_syscalls_other_syscalls_and_user_page_faults_are_kernel_entries()
    {
        var events = Read("""
# tracer: nop
#
              cc1-3001    [000] .....   200.000001: sys_enter: NR 9 (0, 21000, 3, 22, ffffffff, 0)
              cc1-3001    [000] .....   200.000002: sys_exit: NR 9 = 140737345318912
              cc1-3001    [000] .....   200.000003: page_fault_user: address=0x7f2a8c001000 ip=0x55d0c8e4e000 error_code=0x6
              cc1-3001    [000] .....   200.000004: sys_openat(dfd: ffffff9c, filename: 7ffc, flags: 0, mode: 0)
              cc1-3001    [000] .....   200.000005: sys_openat -> 0x3
""");
        Assert.Equal([EventKind.SysEnter, EventKind.SysExit, EventKind.PageFaultUser, EventKind.SysEnter, EventKind.SysExit],
            events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Equal(3001, e.Pid));
        Assert.True(EventKinds.IsKernelEntry(EventKind.PageFaultUser));
        Assert.False(EventKinds.IsKernelEntry(EventKind.SysExit));
        Assert.Equal(EventKind.SysEnter, EventKinds.FromTracepoint("sys_enter_openat"u8));
        Assert.Equal(EventKind.SysExit, EventKinds.FromTracepoint("sys_exit_read"u8));
        Assert.Equal(EventKind.KvmExit, EventKinds.FromTracepoint("kvm_exit"u8));
        Assert.Equal(EventKind.KvmEntry, EventKinds.FromTracepoint("kvm_entry"u8));
        var kvm = Read("""
# tracer: nop
#
        CPU 0/KVM-4001    [001] .....   300.000001: kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0xffffffff81000000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
        CPU 0/KVM-4001    [001] .....   300.000002: kvm_entry: vcpu 0, rip 0xffffffff81000000
""");
        Assert.Equal([EventKind.KvmExit, EventKind.KvmEntry], kvm.Select(e => e.Kind));
        Assert.All(kvm, e => Assert.Equal(4001, e.Pid));
    }

    [Fact]
    public void trace_cmd_and_perf_name_the_entry_sys_enter_read_with_0x_values()
    {
        var events = Read("""
cpus=2
             fio-2201  [001]   100.000001: sys_enter_read:       fd: 0x00000005, buf: 0x7f2a8c001000, count: 0x00001000
""");
        Assert.Single(events);
        Assert.Equal(EventKind.SysRead, events[0].Kind);
        Assert.Equal(4096, events[0].Bytes);
    }
}
