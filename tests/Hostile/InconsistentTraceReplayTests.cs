using System.Globalization;
using System.Text;
using AsiTrace.Tests.Replay;

namespace AsiTrace.Tests.Hostile;

/// <summary>
/// Real traces are not consistent: lost events, a free whose allocation was never traced, an allocation of a pfn the
/// trace still holds live, tail pages of a compound page freed on their own, orders that disagree between an
/// allocation and its free. None of that may corrupt the model's free lists or crash a replay, under any policy.
/// </summary>
public class InconsistentTraceReplayTests
{
    static readonly string[] Gfps = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE|__GFP_ZERO", "GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP",
        "GFP_NOWAIT|__GFP_NOWARN", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC|__GFP_COMP"];

    /// <summary>A tracefs text trace of <paramref name="n"/> events over a few hundred pfns: allocations, frees and
    /// batched frees of random orders and types, zone_locked refills and pcp drains, with no regard for consistency.</summary>
    internal static string HostileTrace(int seed, int n)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("# tracer: nop\n#\n# entries-in-buffer/entries-written: 0/0   #P:2\n#\n");
        long baseSpan = 1L << 11;
        double t = 100;
        var live = new List<(long Pfn, int Order)>();
        for (int k = 0; k < n; k++)
        {
            t += rng.NextDouble() * 1e-5;
            int cpu = rng.Next(2);
            long pfn = 0x100000 + rng.NextInt64(baseSpan) + (rng.Next(20) == 0 ? 0x40000 * rng.Next(1, 4) : 0);
            int order = rng.Next(10) < 7 ? 0 : rng.Next(11);
            if (rng.Next(3) == 0) pfn &= ~((1L << order) - 1);
            int mt = rng.Next(10) < 8 ? rng.Next(3) : rng.Next(6);
            string head = $"  task-{1000 + cpu}   [{cpu:000}] .....  {t.ToString("F6", CultureInfo.InvariantCulture)}: ";
            int what = rng.Next(10);
            if (what < 2 && live.Count > 0 && rng.Next(2) == 0)
            {
                // Free of something live, sometimes with another order.
                int j = rng.Next(live.Count);
                var (p, o) = live[j];
                live.RemoveAt(j);
                if (rng.Next(8) == 0) o = rng.Next(11);
                sb.Append(head).Append($"mm_page_free: page=0000000000000000 pfn=0x{p:x} order={o}\n");
            }
            else if (what < 4)
            {
                live.Add((pfn, order));
                sb.Append(head).Append($"mm_page_alloc: page=0000000000000000 pfn=0x{pfn:x} order={order} migratetype={mt} gfp_flags={Gfps[rng.Next(Gfps.Length)]}\n");
            }
            else if (what < 6) sb.Append(head).Append($"mm_page_free: page=0000000000000000 pfn=0x{pfn:x} order={order}\n");
            else if (what < 7) sb.Append(head).Append($"mm_page_free_batched: page=0000000000000000 pfn=0x{pfn:x} order=0\n");
            else if (what < 8) sb.Append(head).Append($"mm_page_alloc_zone_locked: page=0000000000000000 pfn=0x{pfn:x} order={order} migratetype={mt} percpu_refill={rng.Next(2)}\n");
            else if (what < 9) sb.Append(head).Append($"mm_page_pcpu_drain: page=0000000000000000 pfn=0x{pfn:x} order={order} migratetype={mt}\n");
            else sb.Append(head).Append($"mm_page_alloc_extfrag: page=0000000000000000 pfn=0x{pfn:x} alloc_order={order} fallback_order={rng.Next(11)} alloc_migratetype={mt} fallback_migratetype={rng.Next(3)} change_ownership={rng.Next(2)}\n");
        }
        return sb.ToString();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    
    
    
    public void EveryPolicySurvivesAnInconsistentTrace(int seed)
    {
        var path = Path.Combine(TestPaths.TempDir(), "hostile.txt");
        File.WriteAllText(path, HostileTrace(seed, 20_000));
        var r = SynthRun.Replay(path, AsiTrace.Replay.Policies.PolicySpec.DefaultList);
        Assert.Equal(6, r.Metrics.Count);
        foreach (var (policy, m) in r.Metrics) Assert.True(m["allocations"] > 1000, policy);
        // The reconstruction alone keeps the request stream consistent: no model is ever asked to free a page it does
        // not hold (the machine refuses such a free and counts it).
        Assert.False(r.Anomalies.Keys.Any(k => k.StartsWith("model_frees_of_pages_not_held", StringComparison.Ordinal)),
            string.Join(", ", r.Anomalies.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(r.Anomalies.GetValueOrDefault("free_of_misaligned_or_freed_pages") > 0, "the trace exercises the repair");
    }
}

/// <summary>The machine's own guard (free_pages_prepare()'s bad_page() check): a second free of a page, a free of a free
/// page or of a block not aligned to its order is refused and counted, and the buddy lists stay intact.</summary>
public class ModelFreeGuardTests
{
    [Fact]
    public void DoubleAndMisalignedFreesAreRefused()
    {
        var scan = new AsiTrace.Replay.Requests.PreScan(1L << 28);
        var alloc = new AsiTrace.Ingest.Canonical.TraceEvent
        {
            Kind = AsiTrace.Ingest.Canonical.EventKind.MmPageAlloc, Pfn = 0x140000, Order = 0,
            Fields = AsiTrace.Ingest.Canonical.EventFields.Pfn | AsiTrace.Ingest.Canonical.EventFields.Order,
        };
        scan.Add([alloc]);
        Assert.True(AsiTrace.Replay.Policies.PolicySpec.TryParse("noasi", out var spec));
        var m = AsiTrace.Replay.ReplayRunner.MachineAfterPreScan(spec, scan, 2);
        var req = new AsiTrace.Replay.Requests.AllocRequest(0, 0, 1, -1, 0x140000, 2, 0, 0, AsiTrace.Model.Alloc.ZoneIndex.Normal);
        long pfn = m.Alloc(in req);
        Assert.True(pfn >= 0);
        var free = new AsiTrace.Replay.Requests.FreeRequest(1, 0, 0x140000, 2, 0, 0);
        m.Free(in free, pfn + 1);               // misaligned for order 2
        Assert.Equal(1, m.Counters.FreesOfPagesNotHeld);
        m.Free(in free, pfn);                   // the real free
        Assert.Equal(1, m.Counters.FreesOfPagesNotHeld);
        m.Free(in free, pfn);                   // a second free of the same pages
        Assert.Equal(2, m.Counters.FreesOfPagesNotHeld);
        var single = new AsiTrace.Replay.Requests.FreeRequest(2, 1, 0x140000, 0, 0, 0);
        m.Free(in single, pfn + 3);             // one page of it, freed already
        Assert.Equal(3, m.Counters.FreesOfPagesNotHeld);
        m.Allocator.DecayCpu(0);
        foreach (var z in m.Allocator.Zones) if (z is not null) { z.Pcp[0].DrainAll(); z.Pcp[1].DrainAll(); Assert.Empty(z.Buddy.Validate()); }
    }
}
