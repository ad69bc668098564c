using AsiTrace.Model.Alloc;

namespace AsiTrace.Tests.Model;

/// <summary>Buddy allocator rules, named after the mm/page_alloc.c function each follows (docs/model.md §1).</summary>
public class BuddyZoneTests
{
    static readonly Freetype U = Freetype.OfMigratetype(Migratetype.Unmovable), M = Freetype.OfMigratetype(Migratetype.Movable),
        R = Freetype.OfMigratetype(Migratetype.Reclaimable);

    static BuddyZone Zone(int blocks, Freetype? ft = null)
    {
        var z = new BuddyZone("Normal", 0x100000, blocks * 1024L);
        for (int b = 0; b < blocks; b++) z.AddFreeBlock(0x100000 + b * 1024L, 10, ft ?? M);
        return z;
    }

    [Fact]
    public void expand_puts_each_upper_half_at_the_head_and_returns_the_lowest_part()
    {
        var z = Zone(1);
        long pfn = z.RmqueueSmallest(0, M);
        Assert.Equal(0x100000, pfn);
        for (int o = 0; o < 10; o++) Assert.Equal([0x100000 + (1L << o)], z.FreeList(o, M));
        Assert.Equal(1023, z.FreePages);
        // percpu_refill is "pcp order and pcp type" as __rmqueue_smallest() computes it, refill or not.
        Assert.Equal(new AllocatorEvent(AllocatorEventKind.ZoneLocked, 0x100000, 0, M, PercpuRefill: true), z.Events[^1]);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void free_one_page_merges_buddies_back_to_the_largest_order()
    {
        var z = Zone(1);
        var pfns = Enumerable.Range(0, 1024).Select(_ => z.RmqueueSmallest(0, M)).ToList();
        Assert.Equal(0, z.FreePages);
        Assert.Equal(1024, pfns.Distinct().Count());
        foreach (var p in pfns) z.FreeOnePage(p, 0, M);
        Assert.Equal(1, z.NrFree(10));
        Assert.Equal(1024, z.FreePages);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void free_one_page_does_not_merge_across_unmergeable_pageblocks_above_pageblock_order()
    {
        var z = Zone(1);
        long a = z.RmqueueSmallest(9, M), b = z.RmqueueSmallest(9, M);
        z.SetPageblockFreetype(b, Freetype.OfMigratetype(Migratetype.HighAtomic));
        z.FreeOnePage(a, 9, M);
        z.FreeOnePage(b, 9, Freetype.OfMigratetype(Migratetype.HighAtomic));
        Assert.Equal(2, z.NrFree(9));
        Assert.Equal(0, z.NrFree(10));
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void free_one_page_merges_different_mergeable_types_and_relabels_the_buddy()
    {
        var z = Zone(1);
        long a = z.RmqueueSmallest(9, M), b = z.RmqueueSmallest(9, M);
        z.SetPageblockFreetype(b, U);
        z.FreeOnePage(b, 9, U);
        z.FreeOnePage(a, 9, M);
        Assert.Equal(1, z.NrFree(10));
        Assert.Equal(M, z.PageblockFreetype(b));
        Assert.Equal([a], z.FreeList(10, M));
    }

    [Fact]
    public void buddy_merge_likely_puts_a_block_whose_next_order_buddy_is_free_at_the_tail()
    {
        var z = Zone(1);
        // Take four order-0 pages: 0x100000..0x100003. Free 0x100002 and 0x100003 (they merge to order 1 at 0x100002),
        // then free 0x100000: its buddy 0x100001 is busy, but the order-1 buddy (0x100002) is free → tail.
        var p = Enumerable.Range(0, 4).Select(_ => z.RmqueueSmallest(0, M)).ToList();
        z.FreeOnePage(p[2], 0, M);
        z.FreeOnePage(p[3], 0, M);
        long other = z.RmqueueSmallest(0, M); // some unrelated order-0 page goes to the list head first
        z.FreeOnePage(other, 0, M);
        z.FreeOnePage(p[0], 0, M);
        Assert.Equal(p[0], z.FreeList(0, M)[^1]);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void rmqueue_steal_keeps_the_fallback_type_when_only_small_fallback_blocks_exist()
    {
        // find_suitable_fallback() asks should_try_claim_block() with the *block's* order: an order-10 unmovable block is
        // claimed even for a movable order-0 request, but below order 4 a movable request may not claim and steals.
        var z = new BuddyZone("Normal", 0, 1024);
        z.AddFreeBlock(8, 2, U);
        z.AddFreeBlock(16, 3, U);
        long pfn = z.Rmqueue(0, M);
        Assert.Equal(8, pfn); // the smallest fallback block, scanned upward
        var e = z.Events[^1];
        Assert.Equal(AllocatorEventKind.Extfrag, e.Kind);
        Assert.Equal((0, M, 2, U, false), (e.Order, e.Freetype, e.FallbackOrder, e.FallbackFreetype!.Value, e.ChangeOwnership));
        Assert.Equal(U, z.PageblockFreetype(pfn));
        Assert.Equal([10L], z.FreeList(1, U));
        Assert.Equal([9L], z.FreeList(0, U));
        Assert.Empty(z.Validate());

        var big = Zone(1, U);
        long p2 = big.Rmqueue(0, M);
        Assert.Equal(M, big.PageblockFreetype(p2)); // claimed: the order-10 block was relabelled
        Assert.True(big.Events.Last(x => x.Kind == AllocatorEventKind.Extfrag).ChangeOwnership);
    }

    [Fact]
    public void rmqueue_claim_takes_whole_pageblocks_for_orders_at_or_above_pageblock_order()
    {
        var z = Zone(1, M);
        long pfn = z.Rmqueue(0, U); // UNMOVABLE may claim: the largest fallback block (order 10) is claimed whole
        Assert.Equal(U, z.PageblockFreetype(pfn));
        Assert.Equal(U, z.PageblockFreetype(pfn + 512));
        var e = z.Events.Last(x => x.Kind == AllocatorEventKind.Extfrag);
        Assert.True(e.ChangeOwnership);
        Assert.Equal(10, e.FallbackOrder);
        Assert.Single(z.FreeList(9, U));
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void try_to_claim_block_needs_half_the_pageblock_free_or_alike()
    {
        // A movable pageblock mostly in use by movable allocations: for an UNMOVABLE request, alike = pageblock − (free +
        // movable) = 0, so with 112 free pages (< 256) the block is not claimed.
        var z = new BuddyZone("Normal", 0, 512);
        z.AddFreeBlock(0, 9, M);
        var taken = Enumerable.Range(0, 400).Select(_ => z.RmqueueSmallest(0, M)).ToList(); // 400 movable pages in use
        z.Events.Clear();
        long pfn = z.Rmqueue(0, U);
        // free 112 + alike (512 − 112 − 400 = 0) < 256: no claim; the steal path takes a page, block stays movable.
        Assert.Equal(M, z.PageblockFreetype(pfn));
        Assert.False(z.Events[^1].ChangeOwnership);
        // Free most of them: now free ≥ 256 and the claim relabels the block.
        foreach (var p in taken.Take(300)) z.FreeOnePage(p, 0, M);
        z.Events.Clear();
        long pfn2 = z.Rmqueue(0, U);
        Assert.Equal(U, z.PageblockFreetype(pfn2));
        Assert.Contains(z.Events, e => e.Kind == AllocatorEventKind.Extfrag && e.ChangeOwnership);
        Assert.Contains(z.Events, e => e.Kind == AllocatorEventKind.ZoneLocked); // taken with __rmqueue_smallest
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void random_allocations_and_frees_conserve_pages_and_never_hand_out_a_page_twice()
    {
        var rng = new Random(3);
        var z = Zone(8);
        var live = new Dictionary<long, (int Order, Freetype Ft)>();
        var owned = new HashSet<long>();
        for (int step = 0; step < 20000; step++)
        {
            if (live.Count > 0 && rng.Next(3) == 0)
            {
                var (pfn, (order, mt)) = live.ElementAt(rng.Next(live.Count));
                live.Remove(pfn);
                for (long p = pfn; p < pfn + (1L << order); p++) owned.Remove(p);
                z.FreeOnePage(pfn, order, z.PageblockFreetype(pfn));
            }
            else
            {
                int order = rng.Next(10) < 8 ? 0 : rng.Next(1, 5);
                var mt = Freetype.OfMigratetype(rng.Next(3));
                long pfn = z.Rmqueue(order, mt);
                if (pfn < 0) continue;
                Assert.Equal(0, pfn & ((1L << order) - 1));
                for (long p = pfn; p < pfn + (1L << order); p++) Assert.True(owned.Add(p), $"pfn {p} handed out twice");
                live[pfn] = (order, mt);
            }
        }
        Assert.Equal(8 * 1024, z.FreePages + owned.Count);
        Assert.Empty(z.Validate());
    }
}

public class WatermarkTests
{
    static BuddyZone Zone()
    {
        var z = new BuddyZone("Normal", 0, 4096);
        for (int b = 0; b < 4; b++) z.AddFreeBlock(b * 1024L, 10, Freetype.OfMigratetype(Migratetype.Movable));
        return z;
    }

    [Fact]
    public void zone_watermark_ok_order0_boundary_and_reserves()
    {
        var z = Zone(); // 4096 free pages
        Assert.False(z.WatermarkOk(0, 4000, 96, AllocFlags.None));  // free 4096 <= 4000 + 96
        Assert.True(z.WatermarkOk(0, 4000, 95, AllocFlags.None));
        // MIN_RESERVE: half the mark; with NON_BLOCK a further quarter of what is left.
        Assert.True(z.WatermarkOk(0, 8000, 0, AllocFlags.MinReserve));                      // 4096 > 4000
        Assert.False(z.WatermarkOk(0, 8200, 0, AllocFlags.MinReserve));                     // 4096 <= 4100
        Assert.True(z.WatermarkOk(0, 8200, 0, AllocFlags.MinReserve | AllocFlags.NonBlock)); // 4096 > 3075
        // NON_BLOCK alone gets no discount (the quarter applies only with MIN_RESERVE).
        Assert.False(z.WatermarkOk(0, 4096, 0, AllocFlags.NonBlock));
    }

    [Fact]
    public void zone_watermark_ok_high_order_needs_a_usable_block_and_excludes_highatomic()
    {
        var z = new BuddyZone("Normal", 0, 2048);
        z.AddFreeBlock(0, 10, Freetype.OfMigratetype(Migratetype.HighAtomic));
        z.AddFreeBlock(1024, 3, Freetype.OfMigratetype(Migratetype.Movable));
        Assert.False(z.WatermarkOk(0, 100, 0, AllocFlags.None));            // only 8 usable pages
        Assert.True(z.WatermarkOk(0, 100, 0, AllocFlags.HighAtomic));
        Assert.True(z.WatermarkOk(4, 0, 0, AllocFlags.Oom));                 // OOM may use the highatomic lists too
        Assert.True(z.WatermarkOk(4, 0, 0, AllocFlags.HighAtomic));          // the highatomic order-10 block qualifies
        Assert.False(z.WatermarkOk(4, 0, 0, AllocFlags.MinReserve));         // no order ≥ 4 block on a pcp-type list
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void decay_pcp_high_shrinks_high_by_an_eighth_and_drains_the_excess()
    {
        var z = Zone();
        var pcp = new PerCpuPages(z, new ZoneFlags(), 0, batch: 8, high: 800, highMin: 100, highMax: 1000);
        var pages = Enumerable.Range(0, 900).Select(_ => pcp.Alloc(0, Freetype.OfMigratetype(Migratetype.Movable))).ToList();
        foreach (var p in pages.Take(700)) pcp.Free(p, 0, Freetype.OfMigratetype(Migratetype.Movable));
        int high = pcp.High, count = pcp.Count;
        pcp.Decay();
        Assert.Equal(Math.Max(Math.Max(count - (8 << PerCpuPages.ScaleMax), high - (high >> 3)), 100), pcp.High);
        Assert.True(pcp.Count <= pcp.High);
        Assert.Empty(z.Validate());
    }
}

public class HighAtomicTests
{
    [Fact]
    public void reserve_highatomic_pageblock_converts_a_mergeable_block_up_to_one_percent()
    {
        var z = new BuddyZone("Normal", 0, 4096);
        for (int b = 0; b < 4; b++) z.AddFreeBlock(b * 1024L, 10, Freetype.OfMigratetype(Migratetype.Unmovable));
        long pfn = z.RmqueueSmallest(2, Freetype.OfMigratetype(Migratetype.Unmovable));
        // managed 4096: 1% = 40 pages, rounded up to one pageblock (512).
        Assert.True(z.ReserveHighAtomic(pfn, 2, managed: 4096));
        Assert.Equal(Migratetype.HighAtomic, z.PageblockFreetype(pfn).Mt);
        Assert.Equal(512, z.ReservedHighAtomic);
        Assert.Equal(512 - 4, z.FreePagesOfType(Migratetype.HighAtomic)); // the block's free pieces moved
        long other = z.RmqueueSmallest(2, Freetype.OfMigratetype(Migratetype.Unmovable));
        Assert.False(z.ReserveHighAtomic(other, 2, managed: 4096));     // the limit is reached
        // Freed, the page goes to its pageblock's lists, now the highatomic ones; an unmovable request does not see it.
        z.FreeOnePage(pfn, 2, z.PageblockFreetype(pfn));
        Assert.Equal(512, z.FreePagesOfType(Migratetype.HighAtomic));
        long next = z.RmqueueSmallest(0, Freetype.OfMigratetype(Migratetype.Unmovable));
        Assert.NotEqual(Migratetype.HighAtomic, z.PageblockFreetype(next).Mt);
        Assert.Empty(z.Validate());
    }
}

/// <summary>The fallback rules of older kernels (docs/model.md §1.7), selectable for old traces.</summary>
public class LegacyFallbackTests
{
    static readonly Freetype U = Freetype.OfMigratetype(Migratetype.Unmovable), M = Freetype.OfMigratetype(Migratetype.Movable);

    [Fact]
    public void rmqueue_fallback_v6_9_moves_then_retries_so_zone_locked_follows_every_extfrag()
    {
        var z = new BuddyZone("Normal", 0, 1024, new BuddyOptions { Fallback = FallbackRules.Legacy69 });
        z.AddFreeBlock(0, 10, M);
        long pfn = z.Rmqueue(0, U);
        Assert.Equal(0, pfn);
        Assert.Equal([AllocatorEventKind.Extfrag, AllocatorEventKind.ZoneLocked], z.Events.Select(e => e.Kind));
        Assert.True(z.Events[0].ChangeOwnership);
        Assert.Equal(U, z.PageblockFreetype(0));
        Assert.Equal(U, z.PageblockFreetype(512));
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void steal_suitable_fallback_v6_9_single_block_moves_to_the_requested_lists_without_relabel()
    {
        var z = new BuddyZone("Normal", 0, 1024, new BuddyOptions { Fallback = FallbackRules.Legacy69 });
        z.AddFreeBlock(8, 2, U);
        long pfn = z.Rmqueue(0, M); // movable below order 4 may not steal the block: find_smallest, move one block
        Assert.Equal(8, pfn);
        Assert.Equal(U, z.PageblockFreetype(8));             // not relabelled
        Assert.Equal([10L], z.FreeList(1, M));                  // remainders on the movable lists inside an unmovable block
        Assert.Equal(AllocatorEventKind.ZoneLocked, z.Events[^1].Kind);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void steal_suitable_fallback_v6_10_single_page_keeps_the_fallback_type_and_emits_no_zone_locked()
    {
        var z = new BuddyZone("Normal", 0, 1024, new BuddyOptions { Fallback = FallbackRules.Legacy610 });
        z.AddFreeBlock(8, 2, U);
        z.AddFreeBlock(16, 3, U);
        long pfn = z.Rmqueue(0, M);
        Assert.Equal(8, pfn);
        Assert.Equal([AllocatorEventKind.Extfrag], z.Events.Select(e => e.Kind));
        Assert.Equal([10L], z.FreeList(1, U));
        Assert.Empty(z.Validate());
    }

    [Theory]
    [InlineData(FallbackRules.ClaimThenSteal)]
    [InlineData(FallbackRules.Legacy610)]
    [InlineData(FallbackRules.Legacy69)]
    public void every_rule_set_conserves_pages_and_never_double_allocates(FallbackRules rules)
    {
        var rng = new Random((int)rules + 10);
        var z = new BuddyZone("Normal", 0, 8192, new BuddyOptions { Fallback = rules });
        for (int b = 0; b < 8; b++) z.AddFreeBlock(b * 1024L, 10, Freetype.OfMigratetype(b % 3));
        var live = new List<(long Pfn, int Order)>();
        var owned = new HashSet<long>();
        for (int step = 0; step < 15000; step++)
        {
            if (live.Count > 0 && rng.Next(3) == 0)
            {
                int k = rng.Next(live.Count);
                var (pfn, order) = live[k];
                live[k] = live[^1]; live.RemoveAt(live.Count - 1);
                for (long p = pfn; p < pfn + (1L << order); p++) owned.Remove(p);
                z.FreeOnePage(pfn, order, z.PageblockFreetype(pfn));
            }
            else
            {
                int order = rng.Next(10) < 8 ? 0 : rng.Next(1, 6);
                long pfn = z.Rmqueue(order, Freetype.OfMigratetype(rng.Next(3)), noFragment: rng.Next(4) == 0);
                if (pfn < 0) continue;
                for (long p = pfn; p < pfn + (1L << order); p++) Assert.True(owned.Add(p));
                live.Add((pfn, order));
            }
        }
        Assert.Equal(8192, z.FreePages + owned.Count);
        Assert.Empty(z.Validate());
    }
}
