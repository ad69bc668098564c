using AsiTrace.Model.Alloc;

namespace AsiTrace.Tests.Model;

/// <summary>pcp rules (docs/model.md §1.9), named after the kernel functions.</summary>
public class PerCpuPagesTests
{
    static readonly Freetype M = Freetype.OfMigratetype(Migratetype.Movable);

    static BuddyZone Zone(int blocks)
    {
        var z = new BuddyZone("Normal", 0, blocks * 1024L);
        for (int b = 0; b < blocks; b++) z.AddFreeBlock(b * 1024L, 10, M);
        return z;
    }

    [Fact]
    public void nr_pcp_alloc_doubles_refills_while_order0_allocations_come_without_frees()
    {
        // The recorded machine's Normal-zone pcp of CPU 0: batch 63, high 44036, high_min 6503, high_max 77824.
        var z = Zone(64);
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, 63, 44036, 6503, 77824);
        for (int i = 0; i < 63 + 126 + 252 + 504 + 1008 + 2016 + 1; i++) Assert.True(pcp.Alloc(0, M) >= 0);
        // The runs of percpu_refill the traces show (observed-kernel-behaviour.md): 63, 126, … 2016.
        Assert.Equal([63, 126, 252, 504, 1008, 2016, 2016], pcp.Refills);
        Assert.Equal(63 + 126 + 252 + 504 + 1008 + 2016 + 2016, z.Events.Count(e => e.Kind == AllocatorEventKind.ZoneLocked && e.PercpuRefill));
        // A free halves the factor: the next refill is smaller.
        pcp.Free(0x1234, 0, M);
        Assert.Equal(ScaleAfterFree(), pcp.AllocFactor);
        static int ScaleAfterFree() => PerCpuPages.ScaleMax >> 1;
    }

    [Fact]
    public void free_frozen_page_commit_drains_in_batches_when_count_reaches_high()
    {
        var z = Zone(1);
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, batch: 4, high: 16, highMin: 16, highMax: 16);
        var pages = Enumerable.Range(0, 32).Select(_ => pcp.Alloc(0, M)).ToList();
        z.Events.Clear();
        int drained = 0;
        foreach (var p in pages)
        {
            pcp.Free(p, 0, M);
            Assert.True(pcp.Count < 16 || pcp.Count == 16 && z.Events.Count > drained);
            drained = z.Events.Count;
        }
        Assert.True(z.Events.All(e => e.Kind == AllocatorEventKind.PcpuDrain));
        Assert.True(pcp.Count < 16);
        Assert.Equal(1024, z.FreePages + pcp.Count);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void free_pcppages_bulk_returns_the_coldest_page_first()
    {
        var z = Zone(1);
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, batch: 4, high: 1000, highMin: 1000, highMax: 1000);
        long a = pcp.Alloc(0, M), b = pcp.Alloc(0, M), c = pcp.Alloc(0, M);
        z.Events.Clear();
        pcp.Free(a, 0, M); pcp.Free(b, 0, M); pcp.Free(c, 0, M); // head insertion: c, b, a, then the refill's rest
        pcp.FreePcppagesBulk(1, PerCpuPages.Pindex(M, 0));
        var drained = z.Events.Single(e => e.Kind == AllocatorEventKind.PcpuDrain);
        Assert.NotEqual(c, drained.Pfn); // the hottest stays
        Assert.Equal(c, pcp.Alloc(0, M)); // and is handed out first (LIFO)
    }

    [Fact]
    public void pages_are_conserved_through_pcp_and_buddy()
    {
        var rng = new Random(5);
        var z = Zone(4);
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, 31, 200, 100, 600);
        var live = new List<(long Pfn, int Order, Freetype Ft)>();
        for (int step = 0; step < 20000; step++)
        {
            if (live.Count > 0 && rng.Next(2) == 0)
            {
                int k = rng.Next(live.Count);
                var (pfn, order, mt) = live[k];
                live[k] = live[^1]; live.RemoveAt(live.Count - 1);
                pcp.Free(pfn, order, mt);
            }
            else
            {
                int order = rng.Next(4) == 0 ? rng.Next(1, 4) : 0;
                var mt = Freetype.OfMigratetype(rng.Next(3));
                long pfn = pcp.Alloc(order, mt);
                if (pfn >= 0) live.Add((pfn, order, mt));
            }
        }
        long livePages = live.Sum(l => 1L << l.Order);
        Assert.Equal(4096, z.FreePages + pcp.Count + livePages);
        pcp.DrainAll();
        Assert.Equal(0, pcp.Count);
        Assert.Equal(4096, z.FreePages + livePages);
        Assert.Empty(z.Validate());
    }
}
