using AsiTrace.Model.Paging;
using AsiTrace.Model.Tlb;
using BenchmarkDotNet.Attributes;

namespace AsiTrace.Bench;

/// <summary>Model speed: TLB lookups, CPA of one 4K page inside a 2M leaf, kernel-flush bookkeeping for 64 CPUs.
/// Each benchmark does <see cref="Ops"/> operations; ops/s = Ops / mean.</summary>
public class ModelBenchmarks
{
    public const int Ops = 1_000_000;
    DirectMap _map = null!;
    CpuTlb _tlb = null!;
    ulong[] _vas = [];
    TlbMachine _machine = null!;

    [GlobalSetup]
    public void Setup()
    {
        _map = DirectMap.Build([new PhysRange(1UL << 20, 64UL << 30)]);
        _tlb = new CpuTlb(CpuPreset.SapphireRapids);
        var rng = new Random(1);
        // A working set of 256 pages inside 2M leaves: mostly TLB hits, as a hot loop sees.
        _vas = new ulong[4096];
        for (int i = 0; i < _vas.Length; i++) _vas[i] = _map.VirtualAddress((ulong)rng.Next(512, 512 + 256));
        _machine = new TlbMachine(CpuPreset.SapphireRapids, 64, _map.Tables);
    }

    [Benchmark(Description = "TLB lookup (hot working set)", OperationsPerInvoke = Ops)]
    public long TlbLookup()
    {
        long s = 0;
        for (int i = 0; i < Ops; i++) { _tlb.Translate(1, _vas[i & 4095], _map.Tables, true, out ulong pfn); s += (long)pfn; }
        return s;
    }

    [Benchmark(Description = "CPA: one 4K page inside a 2M leaf (split once, then 4K rewrites)", OperationsPerInvoke = Ops)]
    public long CpaInside2M()
    {
        var map = DirectMap.Build([new PhysRange(1UL << 20, 4UL << 30)], new DirectMapOptions { GbPages = false });
        long n = 0;
        ulong basePfn = 1 << 20 >> 12;
        for (int i = 0; i < Ops; i++)
        {
            ulong pfn = basePfn + (ulong)((i * 7919) % 500_000);
            n += map.SetPresent(pfn, 1, (i & 1) == 0).Splits2M;
        }
        return n;
    }

    /// <summary>The whole cost, for honesty: each CPU applies the flush at its next access, so here every one of the 64
    /// CPUs then translates one address (applying the INVLPG, then a lookup).</summary>
    [Benchmark(Description = "flush_tlb_kernel_range + one lookup on each of 64 CPUs", OperationsPerInvoke = Ops / 1000)]
    public long KernelFlush64ThenAccess()
    {
        ulong va = _map.VirtualAddress(12345);
        long s = 0;
        for (int i = 0; i < Ops / 1000; i++)
        {
            _machine.FlushTlbKernelRange(0, va, va + 4096);
            for (int c = 0; c < 64; c++) s += (long)_machine.TranslateKernel(c, va, out _);
        }
        return s;
    }

    [Benchmark(Description = "flush_tlb_kernel_range bookkeeping, 64 CPUs, 1 page", OperationsPerInvoke = Ops / 100)]
    public long KernelFlush64()
    {
        ulong va = _map.VirtualAddress(12345);
        for (int i = 0; i < Ops / 100; i++) _machine.FlushTlbKernelRange(0, va, va + 4096);
        return _machine.Counters.IpisSent;
    }
}
