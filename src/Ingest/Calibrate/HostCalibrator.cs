using System.Diagnostics;
using System.Runtime.InteropServices;
using static AsiTrace.Ingest.Calibrate.HostCalls;

namespace AsiTrace.Ingest.Calibrate;

/// <summary>One measured figure: the median of repeated runs and their spread, or why it could not be measured.</summary>
public sealed record Measurement(string Name, string Unit, double Median, double Min, double Max, int Runs, string Method, string? Unavailable = null)
{
    public bool Available => Unavailable is null;
}

/// <summary>
/// <c>asitrace calibrate</c>: measures on this host, from user space and without kernel modules, what can honestly be
/// measured there — zeroing and copying a 4 KiB page, a page fault with its zeroing, a 4 KiB pread from tmpfs, the
/// latency of a TLB shootdown against the number of CPUs it reaches, a context switch between two processes, and IBPB
/// where the kernel's spectre_v2 mode lets a task ask for it. Each figure is the median of repeated runs after a warm-up
/// run, pinned where pinning is allowed, with the spread of the runs.
/// </summary>
public static unsafe class HostCalibrator
{
    const int Runs = 7;
    const int Page = 4096;

    /// <summary>Median, min and max of <paramref name="runs"/> runs of <paramref name="perOp"/> (after one warm-up).</summary>
    static Measurement Repeat(string name, string method, Func<double> perOp, int runs = Runs)
    {
        perOp();
        var v = new double[runs];
        for (int i = 0; i < runs; i++) v[i] = perOp();
        Array.Sort(v);
        return new Measurement(name, "ns", v[runs / 2], v[0], v[^1], runs, method);
    }

    public static List<Measurement> MeasureAll(Action<string>? progress = null)
    {
        bool pinned = Pin(0);
        var list = new List<Measurement>();
        try
        {
            string pin = pinned ? "pinned to CPU 0" : "not pinned (sched_setaffinity refused)";
            progress?.Invoke("zeroing and copying 4 KiB");
            list.Add(Repeat("Zero4K", $"clearing 4 KiB pages of a 64 MiB buffer in turn (each cold in cache), {pin}", ZeroPerPage));
            list.Add(Repeat("Copy4K", $"copying 4 KiB from pages of a 64 MiB buffer in turn into one buffer, {pin}", CopyPerPage));
            progress?.Invoke("page faults");
            list.Add(Repeat("FaultZero4K", $"first touch of each page of a fresh 64 MiB anonymous mapping (fault, zeroing, PTE), {pin}", FaultPerPage));
            progress?.Invoke("pread from tmpfs");
            list.Add(PreadTmpfs(pin));
            progress?.Invoke("TLB shootdowns");
            list.AddRange(Shootdowns());
            progress?.Invoke("context switches");
            list.AddRange(ContextSwitches());
        }
        finally { Unpin(); }
        return list;
    }

    static nint Map(long bytes)
    {
        nint p = mmap(0, (nuint)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == -1) throw new IOException($"mmap of {bytes} bytes failed: errno {Marshal.GetLastPInvokeError()}");
        return p;
    }

    const long Buffer = 64L << 20;

    static double ZeroPerPage()
    {
        nint b = Map(Buffer);
        try
        {
            new Span<byte>((void*)b, (int)Buffer).Fill(1); // faulted in before timing
            var sw = Stopwatch.StartNew();
            for (long o = 0; o < Buffer; o += Page) new Span<byte>((void*)(b + (nint)o), Page).Clear();
            return sw.Elapsed.TotalNanoseconds / (Buffer / Page);
        }
        finally { munmap(b, (nuint)Buffer); }
    }

    static double CopyPerPage()
    {
        nint b = Map(Buffer);
        var dst = new byte[Page];
        try
        {
            new Span<byte>((void*)b, (int)Buffer).Fill(1);
            var sw = Stopwatch.StartNew();
            for (long o = 0; o < Buffer; o += Page) new Span<byte>((void*)(b + (nint)o), Page).CopyTo(dst);
            return sw.Elapsed.TotalNanoseconds / (Buffer / Page);
        }
        finally { munmap(b, (nuint)Buffer); }
    }

    static double FaultPerPage()
    {
        nint b = Map(Buffer);
        try
        {
            var sw = Stopwatch.StartNew();
            for (long o = 0; o < Buffer; o += Page) *(byte*)(b + (nint)o) = 1;
            return sw.Elapsed.TotalNanoseconds / (Buffer / Page);
        }
        finally { munmap(b, (nuint)Buffer); }
    }

    static Measurement PreadTmpfs(string pin)
    {
        const string dir = "/dev/shm";
        if (!Directory.Exists(dir)) return new("PreadTmpfs4K", "ns", 0, 0, 0, 0, "", "no tmpfs at /dev/shm");
        string path = Path.Combine(dir, $"asitrace-calibrate-{Environment.ProcessId}");
        const long size = 16L << 20;
        try
        {
            File.WriteAllBytes(path, new byte[size]);
            int fd = open(path, O_RDONLY);
            if (fd < 0) return new("PreadTmpfs4K", "ns", 0, 0, 0, 0, "", $"cannot open {path}: errno {Marshal.GetLastPInvokeError()}");
            try
            {
                var buf = new byte[Page];
                var rng = new Random(1);
                return Repeat("PreadTmpfs4K", $"pread of 4 KiB at random page offsets of a cached 16 MiB tmpfs file, 100,000 per run, {pin}", () =>
                {
                    var sw = Stopwatch.StartNew();
                    fixed (byte* p = buf)
                        for (int i = 0; i < 100_000; i++) pread(fd, p, Page, (nint)(rng.Next((int)(size / Page)) * (long)Page));
                    return sw.Elapsed.TotalNanoseconds / 100_000;
                });
            }
            finally { close(fd); }
        }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// <c>mprotect()</c> of one page that threads pinned on k other CPUs keep touching: each call changes the PTE and
    /// flushes it on every CPU running the mm (<c>flush_tlb_mm_range()</c>: an IPI to each). The latency against k gives
    /// the initiator's base and per-target cost.
    /// </summary>
    static List<Measurement> Shootdowns()
    {
        int cpus = Environment.ProcessorCount;
        var byTargets = new List<Measurement>();
        nint page = Map(Page);
        try
        {
            *(byte*)page = 1;
            for (int k = 0; k < cpus; k++)
            {
                using var stop = new CancellationTokenSource();
                var threads = new List<Thread>();
                int ready = 0;
                for (int t = 1; t <= k; t++)
                {
                    int cpu = t;
                    var th = new Thread(() =>
                    {
                        Pin(cpu);
                        Interlocked.Increment(ref ready);
                        // Read the page continuously: the CPU stays in the mm (not lazy) and caches the translation.
                        while (!stop.IsCancellationRequested) { _ = Volatile.Read(ref *(byte*)page); Thread.SpinWait(20); }
                    }) { IsBackground = true };
                    th.Start();
                    threads.Add(th);
                }
                while (Volatile.Read(ref ready) < k) Thread.Yield();
                byTargets.Add(Repeat($"Shootdown{k}", $"mprotect of one page (RW↔R) while threads pinned on {k} other CPUs read it, 20,000 per run, from CPU 0", () =>
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < 10_000; i++)
                    {
                        mprotect(page, Page, PROT_READ);
                        mprotect(page, Page, PROT_READ | PROT_WRITE);
                    }
                    return sw.Elapsed.TotalNanoseconds / 20_000;
                }));
                stop.Cancel();
                foreach (var th in threads) th.Join();
            }
        }
        finally { munmap(page, Page); }
        var result = new List<Measurement>(byTargets);
        var b0 = byTargets[0];
        if (byTargets.Count < 2)
        {
            result.Add(new("IpiInitiatorBase", "ns", 0, 0, 0, 0, "", "one CPU: no shootdown reaches another CPU"));
            result.Add(new("IpiInitiatorPerTarget", "ns", 0, 0, 0, 0, "", "one CPU"));
            return result;
        }
        var b1 = byTargets[1];
        result.Add(new("IpiInitiatorBase", "ns", b1.Median - b0.Median, b1.Min - b0.Max, b1.Max - b0.Min, b1.Runs,
            "mprotect latency with one other CPU in the mm minus without (the IPI round to one target)"));
        if (byTargets.Count < 3)
            result.Add(new("IpiInitiatorPerTarget", "ns", 0, 0, 0, 0, "", $"{cpus} CPUs: a per-target slope needs shootdowns to at least two other CPUs"));
        else
        {
            var last = byTargets[^1];
            int n = byTargets.Count - 2;
            result.Add(new("IpiInitiatorPerTarget", "ns", (last.Median - b1.Median) / n, (last.Min - b1.Max) / n, (last.Max - b1.Min) / n, last.Runs,
                $"slope of the mprotect latency from 1 to {byTargets.Count - 1} other CPUs"));
        }
        return result;
    }

    /// <summary>Context switches between two processes pinned on one CPU, ping-ponging a byte through two FIFOs; and
    /// the same with both asking for IBPB (<c>PR_SPEC_FORCE_DISABLE</c> of indirect-branch speculation) where the
    /// kernel's spectre_v2 mode is conditional.</summary>
    static List<Measurement> ContextSwitches()
    {
        var list = new List<Measurement>();
        var plain = PingPong(ibpb: false);
        list.Add(plain);
        string mode = File.Exists("/sys/devices/system/cpu/vulnerabilities/spectre_v2") ? File.ReadAllText("/sys/devices/system/cpu/vulnerabilities/spectre_v2").Trim() : "";
        if (!mode.Contains("IBPB: conditional", StringComparison.Ordinal))
        {
            list.Add(new("Ibpb", "ns", 0, 0, 0, 0, "", $"not available on this kernel: spectre_v2 is \"{mode}\" (no conditional IBPB a task can ask for)"));
            return list;
        }
        var withIbpb = PingPong(ibpb: true);
        list.Add(withIbpb);
        if (!plain.Available || !withIbpb.Available) list.Add(new("Ibpb", "ns", 0, 0, 0, 0, "", "the context-switch measurement failed"));
        else list.Add(new("Ibpb", "ns", withIbpb.Median - plain.Median, withIbpb.Min - plain.Max, withIbpb.Max - plain.Min, withIbpb.Runs,
            "context switch between two processes that force IBPB (prctl PR_SPEC_FORCE_DISABLE) minus without: one IBPB per switch"));
        return list;
    }

    /// <summary>The command that runs this tool as the ping-pong partner (set by the CLI).</summary>
    public static Func<string[], ProcessStartInfo>? PartnerCommand { get; set; }

    const int RoundTrips = 20_000;

    static Measurement PingPong(bool ibpb)
    {
        string name = ibpb ? "ContextSwitchIbpb" : "ContextSwitch";
        if (PartnerCommand is null) return new(name, "ns", 0, 0, 0, 0, "", "no partner process command");
        string dir = Directory.CreateTempSubdirectory("asitrace-calibrate-").FullName;
        string ab = Path.Combine(dir, "ab"), ba = Path.Combine(dir, "ba");
        try
        {
            if (mkfifo(ab, 0x180) != 0 || mkfifo(ba, 0x180) != 0) return new(name, "ns", 0, 0, 0, 0, "", $"mkfifo failed: errno {Marshal.GetLastPInvokeError()}");
            if (ibpb && prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE, 0, 0) != 0)
                return new(name, "ns", 0, 0, 0, 0, "", $"prctl(PR_SPEC_FORCE_DISABLE) refused: errno {Marshal.GetLastPInvokeError()}");
            using var partner = Process.Start(PartnerCommand([ab, ba, "0", ibpb ? "ibpb" : "plain"]))!;
            int w = open(ab, O_WRONLY), r = open(ba, O_RDONLY);
            try
            {
                return Repeat(name, $"two processes pinned on CPU 0 passing a byte through two FIFOs, {2 * RoundTrips:N0} switches per run{(ibpb ? ", both forcing IBPB" : "")}",
                    () => RoundTripNs(w, r), runs: 5);
            }
            finally
            {
                close(w); close(r);
                if (!partner.WaitForExit(5000)) partner.Kill();
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    static double RoundTripNs(int w, int r)
    {
        byte x = 1;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < RoundTrips; i++) { write(w, &x, 1); read(r, &x, 1); }
        return sw.Elapsed.TotalNanoseconds / (2 * RoundTrips);
    }

    /// <summary>The partner's side: pinned, optionally forcing IBPB, echoing every byte until the writer closes.</summary>
    public static int RunPartner(string readPath, string writePath, int cpu, bool ibpb)
    {
        Pin(cpu);
        if (ibpb) prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE, 0, 0);
        int r = open(readPath, O_RDONLY), w = open(writePath, O_WRONLY);
        if (r < 0 || w < 0) return 4;
        byte x;
        while (read(r, &x, 1) == 1) write(w, &x, 1);
        close(r); close(w);
        return 0;
    }
}
