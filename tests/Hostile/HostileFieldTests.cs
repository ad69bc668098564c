using AsiTrace.Ingest.Input;
using AsiTrace.Tests.Replay;

namespace AsiTrace.Tests.Hostile;

/// <summary>One hostile field value (a pfn, a CPU number, a CPU count, a timestamp) never sizes the model: each is
/// refused as invalid input naming the field, or replayed in memory that follows the machine, not the value.</summary>
public class HostileFieldTests
{
    const string Header = "# tracer: nop\n#\n# entries-in-buffer/entries-written: 2/2   #P:{0}\n#\n";

    static string Alloc(int cpu, string ts, string pfn) =>
        $"            bash-100   [{cpu:000}] .....  {ts}: mm_page_alloc: page=0000000000000000 pfn={pfn} order=0 migratetype=0 gfp_flags=GFP_KERNEL\n";

    static string Trace(int headerCpus, params string[] lines)
    {
        var path = Path.Combine(TestPaths.TempDir(), "t.txt");
        File.WriteAllText(path, string.Format(Header, headerCpus) + string.Concat(lines));
        return path;
    }

    [Theory]
    [InlineData("0x1000000000000000", "x86-64")]     // 2^60
    [InlineData("0x10000000000", "x86-64")]          // 2^40
    [InlineData("0xfffffff", "--max-ram")]           // 2^28 − 1: a 1 TiB machine from one pfn, no snapshot
    public void APfnPastTheMachineIsRefusedBeforeSizingZones(string pfn, string says)
    {
        var path = Trace(2, Alloc(0, "100.000001", pfn), Alloc(0, "100.000002", "0x1000"));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<InvalidTraceException>(() => SynthRun.Replay(path, "noasi"));
        Assert.Contains("pfn", e.Where);
        Assert.Contains(says, e.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64 << 20);
    }

    [Theory]
    [InlineData(2, 9000)]
    [InlineData(65535, 0)]
    public void CpuNumbersPastNrCpusAreRefused(int header, int cpu)
    {
        var path = Trace(header, Alloc(cpu, "100.000001", "0x1000"), Alloc(0, "100.000002", "0x1001"));
        var e = Assert.Throws<InvalidTraceException>(() => SynthRun.Replay(path, "noasi"));
        Assert.Contains("CPU", e.Where);
    }

    [Fact]
    public void OneEventOnAHighCpuCostsLittle()
    {
        // 4096 simulated CPUs under six policies: per-CPU TLBs and pcp lists are built when a CPU uses them.
        var path = Trace(2, Alloc(4095, "100.000001", "0x1000"), Alloc(0, "100.000002", "0x1001"));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var r = SynthRun.Replay(path, AsiTrace.Replay.Policies.PolicySpec.DefaultList);
        Assert.Equal(4096, r.Cpus);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 1L << 30, $"{allocated >> 20} MB allocated");
    }

    [Fact]
    public void ATimeSpanOfCenturiesWidensTheSeriesAndEnds()
    {
        var path = Trace(2, Alloc(0, "100.000001", "0x1000"), Alloc(0, "9000000000.000002", "0x1001"));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var r = SynthRun.Replay(path, "noasi,asi-rfc", intervalNs: 1_000_000_000);
        Assert.Contains(r.Assumptions, a => a.StartsWith("time series:", StringComparison.Ordinal));
        Assert.True(r.Series.Select(p => p.TsNs).Distinct().Count() <= AsiTrace.Replay.MachineLimits.MaxSeriesSamples + 2);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 512 << 20);
    }
}
