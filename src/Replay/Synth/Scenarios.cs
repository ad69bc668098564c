using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Replay.Synth;

/// <summary>A synthetic trace: canonical events, their comms and metadata, as a real reader would give them.</summary>
public sealed class SynthTrace
{
    public List<TraceEvent> Events { get; } = new();
    public CommTable Comms { get; } = new();
    public TraceMetadata Metadata { get; } = new();
}

/// <summary>
/// Synthetic scenarios for the workloads the posts measured (docs/model.md §6.3, §7.2), emitting the canonical events a real trace of
/// them would carry. Every parameter has a default and is documented in <see cref="Parameters"/>.
/// </summary>
public static class Scenarios
{
    public static readonly string[] Names = ["firecracker-populate", "fio-randread", "kernel-build"];

    /// <summary>Parameters per scenario: name, default, meaning.</summary>
    public static readonly Dictionary<string, (string Name, string Default, string Meaning)[]> Parameters = new()
    {
        ["firecracker-populate"] =
        [
            ("guest_mib", "1024", "guest memory to populate (Firecracker test_population_latency: 1024 MiB)"),
            ("host_cpus", "4", "online CPUs of the host, which every kernel-range shootdown reaches (not published for the seed's machine)"),
            ("vcpus", "1", "guest vCPUs (the seed's test: 1)"),
        ],
        ["fio-randread"] =
        [
            ("file_mib", "64", "file size (already in the page cache when the trace starts, as after fio's layout phase)"),
            ("reads", "200000", "4 KiB random reads"),
            ("threads", "1", "fio jobs, one per CPU"),
            ("host_cpus", "2", "online CPUs"),
            ("switch_every", "0", "a context switch every N reads per job (0: none; fio jobs rarely block on tmpfs)"),
        ],
        ["kernel-build"] =
        [
            ("processes", "2000", "compiler processes, each allocating, touching and freeing its memory"),
            ("mib_per_process", "8", "anonymous memory per process"),
            ("host_cpus", "2", "online CPUs"),
        ],
    };

    public static SynthTrace Generate(string scenario, IReadOnlyDictionary<string, string> parameters)
    {
        if (!Parameters.TryGetValue(scenario, out var known)) throw new ArgumentException($"unknown scenario '{scenario}'; scenarios: {string.Join(", ", Names)}");
        foreach (var k in parameters.Keys)
            if (!known.Any(p => p.Name == k)) throw new ArgumentException($"{scenario}: unknown parameter '{k}'; parameters: {string.Join(", ", known.Select(p => p.Name))}");
        long P(string name)
        {
            string v = parameters.TryGetValue(name, out var s) ? s : known.First(p => p.Name == name).Default;
            if (!long.TryParse(v, out long n) || n < 0 || n > 1L << 40) throw new ArgumentException($"{scenario}: {name}='{v}' is not a non-negative integer");
            return n;
        }
        var t = new SynthTrace();
        t.Metadata.SourceFormat = "synth:" + scenario;
        t.Metadata.Clock = "synthetic";
        t.Metadata.KernelRelease = "7.0.0-synth";
        t.Metadata.Inputs.Add("synth " + scenario + string.Concat(parameters.OrderBy(p => p.Key).Select(p => $" {p.Key}={p.Value}")));
        switch (scenario)
        {
            case "firecracker-populate": FirecrackerPopulate(t, P("guest_mib"), (int)P("host_cpus"), (int)P("vcpus")); break;
            case "fio-randread": FioRandread(t, P("file_mib"), P("reads"), (int)P("threads"), (int)P("host_cpus"), P("switch_every")); break;
            default: KernelBuild(t, P("processes"), P("mib_per_process"), (int)P("host_cpus")); break;
        }
        return t;
    }

    const ulong GfpUser = (ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs | Gfp.Hardwall);
    const ulong GfpKernel = (ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs);
    const long BasePfn = 0x100000; // 4 GiB: ZONE_NORMAL

    static TraceEvent Alloc(long ts, int cpu, int pid, int comm, long pfn, int order, ulong gfp, int mt) => new()
    {
        Kind = EventKind.MmPageAlloc, TsNs = ts, Cpu = (ushort)cpu, Pid = pid, CommId = comm, Pfn = (ulong)pfn, Order = (byte)order,
        Gfp = gfp, Migratetype = (sbyte)mt,
        Fields = EventFields.Pid | EventFields.Comm | EventFields.Pfn | EventFields.Order | EventFields.Gfp | EventFields.Migratetype,
    };

    static TraceEvent Free(long ts, int cpu, int pid, int comm, long pfn, int order) => new()
    {
        Kind = EventKind.MmPageFree, TsNs = ts, Cpu = (ushort)cpu, Pid = pid, CommId = comm, Pfn = (ulong)pfn, Order = (byte)order,
        Fields = EventFields.Pid | EventFields.Comm | EventFields.Pfn | EventFields.Order,
    };

    static TraceEvent Syscall(EventKind kind, long ts, int cpu, int pid, int comm, long bytes) => new()
    {
        Kind = kind, TsNs = ts, Cpu = (ushort)cpu, Pid = pid, CommId = comm, Bytes = bytes,
        Fields = EventFields.Pid | EventFields.Comm | EventFields.Bytes,
    };

    static TraceEvent Switch(long ts, int cpu, int prev, int next) => new()
    {
        Kind = EventKind.SchedSwitch, TsNs = ts, Cpu = (ushort)cpu, Pid = prev, PrevPid = prev, NextPid = next,
        Fields = EventFields.Pid | EventFields.PrevPid | EventFields.NextPid,
    };

    /// <summary>
    /// Firecracker's population test (the `__GFP_UNMAPPED` v2 benchmark): the VMM fills every guest page through write() into guest_memfd,
    /// whose pages are allocated with <c>__GFP_UNMAPPED | __GFP_ZERO</c> (classified unmapped: pooled per pageblock
    /// under <c>unmapped</c>, where zeroing and the write's copy go through the mermap; removed from the direct map one by
    /// one under <c>secretfree</c>). Per page: one order-0 unmovable allocation and one 4 KiB write.
    /// </summary>
    static void FirecrackerPopulate(SynthTrace t, long guestMib, int hostCpus, int vcpus)
    {
        t.Metadata.CpuCount = Math.Max(hostCpus, 1);
        int comm = t.Comms.Intern("firecracker"u8);
        long pages = guestMib * 256, ts = 1_000_000;
        for (long i = 0; i < pages; i++)
        {
            int cpu = (int)(i % Math.Max(vcpus, 1)) % t.Metadata.CpuCount;
            // guest_memfd allocates with __GFP_UNMAPPED | __GFP_ZERO (the cover letter: zeroing through the mermap).
            t.Events.Add(Alloc(ts, cpu, 1000, comm, BasePfn + i, 0, GfpUser | (ulong)(Gfp.Unmapped | Gfp.Zero), 0));
            t.Events.Add(Syscall(EventKind.SysWrite, ts + 200, cpu, 1000, comm, 4096));
            ts += 1000;
        }
    }

    /// <summary>
    /// FIO 4 KiB random reads of a tmpfs file (seeds 002, 003): the file is in the page cache before the trace starts;
    /// every read copies one cached page (<c>sys_pread64</c>, 4096 bytes).
    /// </summary>
    static void FioRandread(SynthTrace t, long fileMib, long reads, int threads, int hostCpus, long switchEvery)
    {
        t.Metadata.CpuCount = Math.Max(hostCpus, Math.Max(threads, 1));
        int comm = t.Comms.Intern("fio"u8);
        // The file was read into the page cache before the measurement (fio lays it out first): only reads are traced.
        long ts = 1_000_000;
        _ = fileMib;
        for (long r = 0; r < reads; r++)
        {
            int job = (int)(r % Math.Max(threads, 1));
            int cpu = job % t.Metadata.CpuCount;
            t.Events.Add(Syscall(EventKind.SysRead, ts, cpu, 2001 + job, comm, 4096));
            if (switchEvery > 0 && (r / Math.Max(threads, 1)) % switchEvery == switchEvery - 1) t.Events.Add(Switch(ts + 1, cpu, 2001 + job, 0));
            ts += 1000 / Math.Max(threads, 1) + 1;
        }
    }

    /// <summary>Compiler-like churn: each process allocates its anonymous memory (user, zeroed), some kernel memory
    /// (page tables, slab: unmovable, nonsensitive), then exits and frees everything; processes alternate CPUs and
    /// context-switch as they start.</summary>
    static void KernelBuild(SynthTrace t, long processes, long mibPerProcess, int hostCpus)
    {
        t.Metadata.CpuCount = Math.Max(hostCpus, 1);
        int comm = t.Comms.Intern("cc1"u8);
        long pagesPer = Math.Max(mibPerProcess * 256, 1), ts = 1_000_000;
        long next = BasePfn;
        var rng = new Random(7);
        for (long p = 0; p < processes; p++)
        {
            int cpu = (int)(p % t.Metadata.CpuCount), pid = 10_000 + (int)p;
            t.Events.Add(Switch(ts, cpu, 0, pid));
            var mine = new List<(long Pfn, int Order)>();
            for (long i = 0; i < pagesPer; i++)
            {
                long pfn = next++;
                bool kernel = rng.Next(16) == 0;
                t.Events.Add(Alloc(ts, cpu, pid, comm, pfn, 0,
                    kernel ? GfpKernel : GfpUser | (ulong)(Gfp.Highmem | Gfp.Movable | Gfp.Zero), kernel ? 0 : 1));
                mine.Add((pfn, 0));
                ts += 300;
            }
            foreach (var (pfn, order) in mine) { t.Events.Add(Free(ts, cpu, pid, comm, pfn, order)); ts += 50; }
            next = BasePfn + (p % 64) * pagesPer; // exited processes' memory is reused
            t.Events.Add(Switch(ts, cpu, pid, 0));
            ts += 1000;
        }
    }
}
