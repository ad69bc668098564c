using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Calibrate;

/// <summary>The libc calls the host measurements need (Linux x86-64).</summary>
static unsafe class HostCalls
{
    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, O_RDONLY = 0, O_WRONLY = 1;
    public const int PR_SET_SPECULATION_CTRL = 53, PR_SPEC_INDIRECT_BRANCH = 1, PR_SPEC_FORCE_DISABLE = 8;

    [DllImport("libc", SetLastError = true)] public static extern nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc", SetLastError = true)] public static extern int munmap(nint addr, nuint length);
    [DllImport("libc", SetLastError = true)] public static extern int mprotect(nint addr, nuint length, int prot);
    [DllImport("libc", SetLastError = true)] public static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] public static extern nint pread(int fd, byte* buf, nuint count, nint offset);
    [DllImport("libc", SetLastError = true)] public static extern nint read(int fd, byte* buf, nuint count);
    [DllImport("libc", SetLastError = true)] public static extern nint write(int fd, byte* buf, nuint count);
    [DllImport("libc", SetLastError = true)] public static extern int mkfifo([MarshalAs(UnmanagedType.LPStr)] string path, uint mode);
    [DllImport("libc", SetLastError = true)] public static extern int sched_setaffinity(int pid, nuint size, ulong* mask);
    [DllImport("libc", SetLastError = true)] public static extern int prctl(int option, nuint a2, nuint a3, nuint a4, nuint a5);

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; false where the host does not allow it.</summary>
    public static bool Pin(int cpu)
    {
        if (cpu >= 64) return false;
        ulong mask = 1UL << cpu;
        return sched_setaffinity(0, sizeof(ulong), &mask) == 0;
    }

    public static void Unpin()
    {
        ulong mask = Environment.ProcessorCount >= 64 ? ulong.MaxValue : (1UL << Environment.ProcessorCount) - 1;
        sched_setaffinity(0, sizeof(ulong), &mask);
    }
}
