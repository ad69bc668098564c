using AsiTrace.Model.Alloc;
using Xunit;

namespace AsiTrace.Tests.Model;

public class PageAllocatorTests
{
    /// <summary>DMA32 [4096, 8192) and Normal [8192, 16384), all movable and free, pcp batch 4 / high 64.</summary>
    static PageAllocator Node(long normalLow = 100, long[]? dma32Protection = null)
    {
        ZoneSpec Spec(string name, int idx, long start, long pages, Watermarks wm, long[] prot) => new()
        {
            Name = name, Index = idx, StartPfn = start, SpannedPages = pages, ManagedPages = pages, Watermarks = wm,
            Protection = prot, FreeAllUnblocked = true,
            Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64), new PcpSpec(1, 0, 64, 4, 64, 64)],
        };
        var zones = new[]
        {
            InitialLayout.Build(Spec("DMA32", ZoneIndex.Dma32, 4096, 4096, new Watermarks(10, 20, 30, 30), dma32Protection ?? [0, 0, 0, 0]), new BuddyOptions())!,
            InitialLayout.Build(Spec("Normal", ZoneIndex.Normal, 8192, 8192, new Watermarks(normalLow / 2, normalLow, normalLow * 3 / 2, normalLow * 3 / 2), [0, 0, 0, 0]), new BuddyOptions())!,
        };
        return new PageAllocator(zones, 2);
    }

    [Fact]
    public void get_page_from_freelist_prefers_the_highest_allowed_zone()
    {
        var a = Node();
        long pfn = a.Alloc(0, 0, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.InRange(pfn, 8192, 16383);
        long dma32 = a.Alloc(0, 0, ZoneIndex.Dma32, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.InRange(dma32, 4096, 8191);
    }

    [Fact]
    public void zone_below_its_low_watermark_falls_back_to_the_next_zone_unless_the_lowmem_reserve_forbids_it()
    {
        // Normal's low watermark is above all its free pages: the request goes to DMA32.
        var a = Node(normalLow: 9000);
        long pfn = a.Alloc(0, 4, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.InRange(pfn, 4096, 8191);
        // With DMA32 protecting itself against Normal requests (lowmem_reserve), the slow path takes it from Normal.
        var b = Node(normalLow: 9000, dma32Protection: [0, 0, 100000, 100000]);
        long p2 = b.Alloc(0, 4, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.InRange(p2, 8192, 16383);
        Assert.Equal(1, b.AllocsBelowLow);
    }

    [Fact]
    public void rmqueue_serves_pcp_orders_from_the_cpu_list_and_others_from_the_buddy()
    {
        var a = Node();
        var normal = a.Zones[ZoneIndex.Normal]!;
        long p = a.Alloc(1, 0, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.True(p >= 0);
        // A refill of batch pages went to CPU 1's list; one was handed out.
        Assert.Equal(4 - 1, normal.Pcp[1].Count);
        Assert.Equal(0, normal.Pcp[0].Count);
        long before = normal.Buddy.EventCounts[(int)AllocatorEventKind.ZoneLocked];
        long big = a.Alloc(1, 4, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.True(big >= 0);
        Assert.Equal(before + 1, normal.Buddy.EventCounts[(int)AllocatorEventKind.ZoneLocked]);
        Assert.Equal(3, normal.Pcp[1].Count);
        // free_frozen_pages(): order 0 to the pcp list of the freeing CPU, order 4 straight to the buddy.
        long free0 = normal.Buddy.FreePages;
        a.Free(0, p, 0);
        Assert.Equal(1, normal.Pcp[0].Count);
        Assert.Equal(free0, normal.Buddy.FreePages);
        a.Free(0, big, 4);
        Assert.Equal(free0 + 16, normal.Buddy.FreePages);
        Assert.Empty(normal.Buddy.Validate());
    }

    [Fact]
    public void alloc_flags_nofragment_claims_a_whole_pageblock_of_the_other_zone_before_stealing_in_normal()
    {
        // Normal: one unmovable pageblock with a single free order-0 page, the rest movable with a few small free blocks.
        var normalSpec = new ZoneSpec
        {
            Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 8192, SpannedPages = 2048, ManagedPages = 2048,
            Watermarks = new Watermarks(1, 2, 3, 3), Protection = [0, 0, 0, 0], PageblocksByType = [1, 3, 0, 0, 0, 0],
            FreeBlocks = [[0], [4, 2, 1], [], [], [], []],
            Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64)],
        };
        var dma32Spec = new ZoneSpec
        {
            Name = "DMA32", Index = ZoneIndex.Dma32, StartPfn = 4096, SpannedPages = 4096, ManagedPages = 4096,
            Watermarks = new Watermarks(1, 2, 3, 3), Protection = [0, 0, 0, 0], FreeAllUnblocked = true,
            Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64)],
        };
        var a = new PageAllocator([InitialLayout.Build(dma32Spec, new BuddyOptions())!, InitialLayout.Build(normalSpec, new BuddyOptions())!], 1);
        long pfn = a.Alloc(0, 0, ZoneIndex.Normal, Freetype.OfMigratetype(Migratetype.Unmovable));
        // No unmovable memory in Normal and no whole pageblock there to claim: with ALLOC_NOFRAGMENT the request moves
        // on to DMA32 and claims a pageblock there rather than stealing a movable page in Normal.
        Assert.InRange(pfn, 4096, 8191);
        var dma32 = a.Zones[ZoneIndex.Dma32]!.Buddy;
        Assert.Equal(Migratetype.Unmovable, dma32.PageblockMigratetype(pfn));
        Assert.Equal(1, dma32.ExtfragChangedOwnership);
        Assert.Equal(0, a.Zones[ZoneIndex.Normal]!.Buddy.EventCounts[(int)AllocatorEventKind.Extfrag]);
    }

    [Fact]
    public void random_requests_through_the_node_conserve_pages_against_an_occupancy_reference()
    {
        var a = Node();
        var rng = new Random(11);
        var owned = new bool[16384];
        long ownedPages = 0;
        var live = new List<(long Pfn, int Order, int Cpu)>();
        long total = a.FreePages;
        for (int step = 0; step < 1_000_000; step++)
        {
            if (live.Count > 0 && (rng.Next(2) == 0 || live.Count > 3000))
            {
                int i = rng.Next(live.Count);
                var (pfn, order, _) = live[i];
                live[i] = live[^1]; live.RemoveAt(live.Count - 1);
                for (long p = pfn; p < pfn + (1L << order); p++) { Assert.True(owned[p]); owned[p] = false; }
                ownedPages -= 1L << order;
                a.Free(rng.Next(2), pfn, order);
            }
            else
            {
                int order = rng.Next(8) switch { < 5 => 0, 5 => 1, 6 => 3, _ => rng.Next(4, 10) };
                int cpu = rng.Next(2);
                long pfn = a.Alloc(cpu, order, rng.Next(3) == 0 ? ZoneIndex.Dma32 : ZoneIndex.Normal, Freetype.OfMigratetype(rng.Next(3)));
                if (pfn < 0) continue;
                Assert.Equal(0, pfn & ((1L << order) - 1));
                for (long p = pfn; p < pfn + (1L << order); p++) { if (owned[p]) Assert.Fail($"pfn {p} handed out twice"); owned[p] = true; }
                ownedPages += 1L << order;
                live.Add((pfn, order, cpu));
            }
            if (step % 50_000 == 0) a.Tick(step * 10_000_000L);
        }
        long pcp = 0;
        foreach (var z in a.Zones) if (z is not null) { pcp += z.PcpPages; Assert.Empty(z.Buddy.Validate()); }
        Assert.Equal(total, a.FreePages + pcp + ownedPages);
        // Canonical merges: once the pcp lists are drained, no two free buddies are left unmerged.
        foreach (var z in a.Zones)
            if (z is not null)
            {
                foreach (var p in z.Pcp) p.DrainAll();
                InitialLayoutTests.AssertCanonical(z.Buddy);
            }
        Assert.Equal(total, a.FreePages + ownedPages);
    }
}

public class ModelMemoryTests
{
    [Fact]
    public void per_page_state_is_two_bytes_and_free_list_links_grow_only_with_free_heads()
    {
        // 64 GiB zone of max-order free blocks, then fragmented by 100 k order-0 allocations.
        const long pages = 16L << 20;
        var z = new BuddyZone("Normal", 1L << 20, pages) { RecordEvents = false };
        for (long p = 0; p < pages; p += 1024) z.AddFreeBlock((1L << 20) + p, 10, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.InRange((double)z.StateBytes / pages, 2.0, 2.1);
        var rng = new Random(2);
        var taken = new List<long>();
        for (int i = 0; i < 100_000; i++) taken.Add(z.Rmqueue(0, Freetype.OfMigratetype(Migratetype.Movable)));
        for (int i = 0; i < taken.Count; i += 2) z.FreeOnePage(taken[i], 0, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.Empty(z.Validate());
        Assert.InRange((double)z.StateBytes / pages, 2.0, 2.3);
    }
}
