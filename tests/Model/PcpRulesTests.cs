using AsiTrace.Model.Alloc;
using AsiTrace.Replay;
using Xunit;

namespace AsiTrace.Tests.Model;

public class PcpRulesTests
{
    static (BuddyZone, PerCpuPages) Pcp(PcpRules rules, int high = 378)
    {
        var z = new BuddyZone("Normal", 0, 16 * 1024L);
        for (int b = 0; b < 16; b++) z.AddFreeBlock(b * 1024L, 10, Freetype.OfMigratetype(Migratetype.Movable));
        return (z, new PerCpuPages(z, new ZoneFlags(), 0, 63, high, 1000, 60000, rules));
    }

    [Fact]
    public void rmqueue_pcplist_before_v6_7_refills_exactly_batch_without_scaling()
    {
        var (z, pcp) = Pcp(PcpRules.V514);
        for (int i = 0; i < 63 * 5; i++) Assert.True(pcp.Alloc(0, Freetype.OfMigratetype(Migratetype.Movable)) >= 0);
        Assert.Equal([63, 63, 63, 63, 63], pcp.Refills);
        pcp.Alloc(2, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.Equal(63 >> 2, pcp.Refills[^1]); // max(batch >> order, 2)
        // high_min/high_max do not exist: high stays what the snapshot printed.
        Assert.Equal(378, pcp.High);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void free_unref_page_commit_v5_14_drains_batch_shifted_by_free_factor_within_high_minus_batch()
    {
        var (z, pcp) = Pcp(PcpRules.V514, high: 630);
        var pages = new List<long>();
        for (int i = 0; i < 3000; i++) pages.Add(z.Rmqueue(0, Freetype.OfMigratetype(Migratetype.Movable)));
        var drained = new List<int>();
        foreach (long p in pages)
        {
            int before = pcp.Count;
            pcp.Free(p, 0, Freetype.OfMigratetype(Migratetype.Movable));
            if (pcp.Count <= before) drained.Add(before + 1 - pcp.Count);
        }
        // Each drain doubles while frees come without allocations, capped at high − batch = 567.
        Assert.Equal([63, 126, 252, 504, 567, 567], drained.Take(6));
        Assert.Equal(3000 - pcp.Count, z.Events.Count(e => e.Kind == AllocatorEventKind.PcpuDrain));
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void rmqueue_pcplist_halves_free_factor_on_every_allocation_not_only_on_refills()
    {
        var (z, pcp) = Pcp(PcpRules.V514, high: 630);
        var pages = new List<long>();
        for (int i = 0; i < 1200; i++) pages.Add(z.Rmqueue(0, Freetype.OfMigratetype(Migratetype.Movable)));
        var drained = new List<int>();
        void Free(long p)
        {
            int before = pcp.Count;
            pcp.Free(p, 0, Freetype.OfMigratetype(Migratetype.Movable));
            if (pcp.Count <= before) drained.Add(before + 1 - pcp.Count);
        }
        int k = 0;
        while (drained.Count < 3) Free(pages[k++]); // 63, 126, 252: free_factor is now 3
        // Two allocations served from the (non-empty) list, no refill: 3 → 1 → 0.
        Assert.True(pcp.Alloc(0, Freetype.OfMigratetype(Migratetype.Movable)) >= 0);
        Assert.True(pcp.Alloc(0, Freetype.OfMigratetype(Migratetype.Movable)) >= 0);
        Assert.Empty(pcp.Refills);
        while (drained.Count < 4) Free(pages[k++]);
        Assert.Equal([63, 126, 252, 63], drained);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void from_v5_18_an_order_1_to_3_free_while_only_freeing_drains_the_whole_pcp()
    {
        foreach (var rules in new[] { PcpRules.V518, PcpRules.V514 })
        {
            var (z, pcp) = Pcp(rules, high: 630);
            var small = new List<long>();
            for (int i = 0; i < 700; i++) small.Add(z.Rmqueue(0, Freetype.OfMigratetype(Migratetype.Movable)));
            long order2 = z.Rmqueue(2, Freetype.OfMigratetype(Migratetype.Movable));
            foreach (long p in small) pcp.Free(p, 0, Freetype.OfMigratetype(Migratetype.Movable)); // one drain (63): free_factor 1
            int before = pcp.Count;
            pcp.Free(order2, 2, Freetype.OfMigratetype(Migratetype.Movable));
            if (rules == PcpRules.V518) Assert.Equal(0, pcp.Count);          // free_high: nr_pcp_high() 0, free everything
            else Assert.Equal(before + 4, pcp.Count);                        // below high: kept
            Assert.Empty(z.Validate());
        }
    }

    [Fact]
    public void before_v5_14_only_order_0_is_cached_and_drains_are_batch_sized()
    {
        var (z, pcp) = Pcp(PcpRules.Legacy);
        Assert.True(pcp.Allows(0));
        Assert.False(pcp.Allows(1));
        Assert.False(pcp.Allows(9));
        var pages = new List<long>();
        for (int i = 0; i < 400; i++) pages.Add(z.Rmqueue(0, Freetype.OfMigratetype(Migratetype.Movable)));
        foreach (long p in pages) pcp.Free(p, 0, Freetype.OfMigratetype(Migratetype.Movable));
        // Each time count reaches 378, 63 pages go back: 400 frees → one drain.
        Assert.Equal(63, z.Events.Count(e => e.Kind == AllocatorEventKind.PcpuDrain));
        pcp.Decay(); // no decay_pcp_high() before v6.7
        Assert.Equal(400 - 63, pcp.Count);
    }

    [Theory]
    [InlineData("6.18.44-fc", FallbackRules.ClaimThenSteal, PcpRules.V67)]
    [InlineData("6.15.0", FallbackRules.ClaimThenSteal, PcpRules.V67)]
    [InlineData("6.12.48+deb13-amd64", FallbackRules.Legacy610, PcpRules.V67)]
    [InlineData("6.6.1", FallbackRules.Legacy69, PcpRules.V518)]
    [InlineData("6.1.0-27-amd64", FallbackRules.Legacy69, PcpRules.V518)]
    [InlineData("5.18.0", FallbackRules.Legacy69, PcpRules.V518)]
    [InlineData("5.15.0-91-generic", FallbackRules.Legacy69, PcpRules.V514)]
    [InlineData("5.10.0-32-amd64", FallbackRules.Legacy69, PcpRules.Legacy)]
    [InlineData("4.19.0", FallbackRules.Legacy69, PcpRules.Legacy)]
    public void rules_follow_the_traced_kernel_release(string release, FallbackRules fallback, PcpRules pcp)
    {
        var v = KernelEra.Parse(release)!.Value;
        Assert.Equal(fallback, KernelEra.Fallback(v));
        Assert.Equal(pcp, KernelEra.Pcp(v));
    }

    [Fact]
    public void unparseable_releases_give_no_era() => Assert.Null(KernelEra.Parse("unknown"));

    [Theory]
    [InlineData("6.18.44-fc", true)]
    [InlineData("6.16.0", true)]
    [InlineData("6.15.3", false)]
    [InlineData("6.12.117+deb12-amd64", false)]
    public void the_free_high_threshold_follows_the_release(string release, bool halfHighMin) =>
        Assert.Equal(halfHighMin, KernelEra.FreeHighAboveHalfHighMin(KernelEra.Parse(release)!.Value));

    [Theory]
    [InlineData(false, true)]   // v6.7–v6.15: free_count ≥ batch is enough
    [InlineData(true, false)]   // v6.16+: free_count must also pass high_min / 2
    public void consecutive_high_order_frees_drain_the_pcp_once_free_count_passes_the_era_threshold(bool halfHighMin, bool drains)
    {
        // batch 63, high_min 1,444 (this VM's 6.12 guest): 200 order-0 frees fill the list and free_count (200 ≥ 63 but
        // < 63 + 722); then two order-3 frees in a row.
        var z = new BuddyZone("Normal", 0, 1 << 16);
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, 63, 5000, 1444, 20000, PcpRules.V67, halfHighMin);
        for (int i = 0; i < 200; i++) pcp.Free(i, 0, Freetype.OfMigratetype(Migratetype.Movable));
        pcp.Free(1024, 3, Freetype.OfMigratetype(Migratetype.Unmovable));
        pcp.Free(2048, 3, Freetype.OfMigratetype(Migratetype.Unmovable));
        Assert.Equal(drains ? 0 : 216, pcp.Count);
    }
}
