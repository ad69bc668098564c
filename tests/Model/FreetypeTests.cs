using AsiTrace.Model.Alloc;
using Xunit;

namespace AsiTrace.Tests.Model;

/// <summary>Freetypes (docs/model.md §7.1–7.2): index helpers enumerated exhaustively as the kernel's KUnit tests do,
/// can_merge_freetypes, the per-freetype pcp lists, __rmqueue_asi and the __GFP_UNMAPPED conversion.</summary>
public class FreetypeTests
{
    [Fact]
    public void freetype_and_pcp_index_helpers_are_bijective_over_every_order_migratetype_and_flag()
    {
        var seenFt = new HashSet<Freetype>();
        var seenPindex = new Dictionary<int, (int Order, Freetype Ft)>();
        for (int flag = 0; flag < Freetype.Flags; flag++)
            for (int mt = 0; mt < Migratetype.Count; mt++)
            {
                var ft = Freetype.Make(mt, flag);
                Assert.InRange(ft.Index, 0, Freetype.Count - 1);
                Assert.True(seenFt.Add(ft));
                Assert.Equal(mt, ft.Mt);
                Assert.Equal(flag, ft.Flag);
                Assert.Equal(ft, ft.Opposite.Opposite);
                Assert.NotEqual(ft, ft.Opposite);
                if (mt >= Migratetype.PcpTypes) continue;
                for (int order = 0; order <= 10; order++)
                {
                    if (!PerCpuPages.AllowedOrder(order)) continue;
                    int p = PerCpuPages.Pindex(ft, order);
                    Assert.InRange(p, 0, PerCpuPages.NrPcpLists - 1);
                    Assert.Equal(order, PerCpuPages.PindexOrder(p));
                    Assert.Equal(flag, PerCpuPages.PindexFreetype(p).Flag);
                    if (order <= PerCpuPages.CostlyOrder)
                    {
                        Assert.Equal(ft, PerCpuPages.PindexFreetype(p));
                        Assert.True(seenPindex.TryAdd(p, (order, ft)), $"pindex {p} used twice");
                    }
                    else
                    {
                        // THP: one list for movable, one shared by the other pcp types (order_to_pindex()).
                        Assert.Equal(flag * PerCpuPages.ListsPerFlag + (mt == Migratetype.Movable ? 13 : 12), p);
                    }
                }
            }
        Assert.Equal(Freetype.Count, seenFt.Count);
        Assert.Equal(2 * 12, seenPindex.Count);
        // Layouts: mainline has only flag 0; __GFP_UNMAPPED has an unmapped list for UNMOVABLE only.
        for (int i = 0; i < Freetype.Count; i++)
        {
            var ft = new Freetype(i);
            Assert.Equal(ft.Flag == 0, ft.ExistsIn(FreetypeLayout.None));
            Assert.True(ft.ExistsIn(FreetypeLayout.Sensitivity));
            Assert.Equal(ft.Flag == 0 || ft.Mt == Migratetype.Unmovable, ft.ExistsIn(FreetypeLayout.Unmapped));
        }
    }

    [Fact]
    public void can_merge_freetypes_enumerated()
    {
        for (int ai = 0; ai < Freetype.Count; ai++)
            for (int bi = 0; bi < Freetype.Count; bi++)
            {
                Freetype a = new(ai), b = new(bi);
                bool expected = a == b || (Migratetype.IsMergeable(a.Mt) && Migratetype.IsMergeable(b.Mt) && a.Flag == b.Flag);
                Assert.Equal(expected, Freetype.CanMerge(a, b));
                Assert.Equal(Freetype.CanMerge(a, b), Freetype.CanMerge(b, a));
            }
    }

    static BuddyZone Zone(FreetypeLayout layout, int blocks, int flag)
    {
        var z = new BuddyZone("Normal", 0, blocks * 1024L, new BuddyOptions { Freetypes = layout });
        for (int b = 0; b < blocks; b++) z.AddFreeBlock(b * 1024L, 10, Freetype.Make(Migratetype.Movable, flag));
        return z;
    }

    [Fact]
    public void free_one_page_does_not_merge_pageblocks_of_different_sensitivity()
    {
        var z = new BuddyZone("Normal", 0, 1024, new BuddyOptions { Freetypes = FreetypeLayout.Sensitivity });
        Freetype sens = Freetype.Make(Migratetype.Movable, 1), nonsens = Freetype.Make(Migratetype.Movable, 0);
        z.SetPageblockFreetype(0, sens);
        z.SetPageblockFreetype(512, nonsens);
        z.FreeOnePage(0, 9, sens);
        z.FreeOnePage(512, 9, nonsens);
        Assert.Equal([0L], z.FreeList(9, sens));
        Assert.Equal([512L], z.FreeList(9, nonsens));
        Assert.Empty(z.FreeList(10, sens));
        // Same sensitivity, different mergeable migratetypes: they merge and the buddy is relabelled.
        var y = new BuddyZone("Normal", 0, 1024, new BuddyOptions { Freetypes = FreetypeLayout.Sensitivity });
        var unmov = Freetype.Make(Migratetype.Unmovable, 1);
        y.SetPageblockFreetype(0, sens);
        y.SetPageblockFreetype(512, unmov);
        y.FreeOnePage(512, 9, unmov);
        y.FreeOnePage(0, 9, sens);
        Assert.Equal([0L], y.FreeList(10, sens));
        Assert.Equal(sens, y.PageblockFreetype(512));
        Assert.Empty(z.Validate()); Assert.Empty(y.Validate());
    }

    [Fact]
    public void rmqueue_keeps_to_the_requested_sensitivity_and_rmqueue_asi_flips_a_pageblock()
    {
        // Everything starts sensitive (PB_nonsensitive clear), as the Sep 2025 series boots.
        var z = Zone(FreetypeLayout.Sensitivity, 4, flag: 1);
        var nonsens = Freetype.Make(Migratetype.Unmovable, 0);
        Assert.Equal(-1, z.Rmqueue(0, nonsens));
        long pfn = z.RmqueueConvert(0, nonsens, out int allocOrder);
        Assert.True(pfn >= 0);
        Assert.Equal(9, allocOrder);
        Assert.Equal(nonsens, z.PageblockFreetype(pfn));
        Assert.Equal(1, z.ConvertedPageblocks[0]);
        // The rest of the pageblock (511 pages) is on the nonsensitive unmovable lists. The sensitive unmovable block was
        // claimed from a movable order-10 block through the normal fallback: its other pageblock went to sensitive unmovable.
        Assert.Equal(511, z.FreePagesOfFreetype(nonsens));
        Assert.Equal(512, z.FreePagesOfFreetype(Freetype.Make(Migratetype.Unmovable, 1)));
        Assert.Equal(3 * 1024, z.FreePagesOfFreetype(Freetype.Make(Migratetype.Movable, 1)));
        // Now plain rmqueue finds nonsensitive memory without another flip.
        long next = z.Rmqueue(0, nonsens);
        Assert.InRange(next, pfn & ~511L, (pfn & ~511L) + 511);
        Assert.Equal(1, z.EventCounts[(int)AllocatorEventKind.FreetypeChange]);
        Assert.Empty(z.Validate());
    }

    [Fact]
    public void rmqueue_asi_is_refused_to_requests_that_may_not_block()
    {
        var spec = new ZoneSpec { Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 0, SpannedPages = 4096, ManagedPages = 4096,
            Watermarks = new Watermarks(1, 2, 3, 3), Protection = [0, 0, 0, 0], FreeAllUnblocked = true, Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64)] };
        var options = new BuddyOptions { Freetypes = FreetypeLayout.Sensitivity };
        var a = new PageAllocator([InitialLayout.Build(spec, options, initialFlag: 1)!], 1, new PageAllocatorOptions { Buddy = options });
        int flips = 0;
        a.OnConvert = (cpu, _, _, order, ft) => { flips++; Assert.Equal(0, cpu); Assert.Equal(9, order); Assert.Equal(0, (ft).Flag); };
        var nonsens = Freetype.Make(Migratetype.Unmovable, 0);
        Assert.Equal(-1, a.Alloc(0, 0, ZoneIndex.Normal, nonsens, always: AllocFlags.NoBlock));
        Assert.Equal(0, flips);
        Assert.True(a.ConversionsRefused > 0);
        long p = a.Alloc(0, 0, ZoneIndex.Normal, nonsens);
        Assert.True(p >= 0);
        Assert.Equal(1, flips);
        // A sensitive free goes to the sensitive pcp list and never serves a nonsensitive request.
        long s = a.Alloc(0, 0, ZoneIndex.Normal, Freetype.Make(Migratetype.Movable, 1));
        a.Free(0, s, 0);
        long again = a.Alloc(0, 0, ZoneIndex.Normal, nonsens);
        Assert.NotEqual(s, again);
        Assert.Equal(nonsens, a.Zones[ZoneIndex.Normal]!.Buddy.PageblockFreetype(again));
    }

    [Fact]
    public void gfp_unmapped_converts_a_mapped_unmovable_pageblock_and_mapped_requests_never_get_unmapped_pages()
    {
        var z = Zone(FreetypeLayout.Unmapped, 2, flag: 0);
        var unmapped = Freetype.Make(Migratetype.Unmovable, 1);
        var mapped = Freetype.Make(Migratetype.Unmovable, 0);
        // Unmapped movable has no lists.
        Assert.Equal(-1, z.RmqueueConvert(0, Freetype.Make(Migratetype.Movable, 1), out _));
        Assert.Equal(-1, z.Rmqueue(0, unmapped));
        long u = z.RmqueueConvert(0, unmapped, out int order);
        Assert.Equal(9, order);
        Assert.Equal(unmapped, z.PageblockFreetype(u));
        // Mapped unmovable requests fall back to movable pageblocks, never to the unmapped pool.
        for (int i = 0; i < 600; i++)
        {
            long m = z.Rmqueue(0, mapped);
            Assert.True(m >= 0);
            Assert.Equal(0, (z.PageblockFreetype(m)).Flag);
        }
        Assert.Equal(511, z.FreePagesOfFreetype(unmapped));
        Assert.Empty(z.Validate());
    }
}

public class SharedPcpListsTests
{
    [Fact]
    public void with_shared_pcp_lists_a_sensitive_free_serves_the_next_nonsensitive_request()
    {
        var spec = new ZoneSpec { Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 0, SpannedPages = 4096, ManagedPages = 4096,
            Watermarks = new Watermarks(1, 2, 3, 3), Protection = [0, 0, 0, 0], FreeAllUnblocked = true, Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64)] };
        var options = new BuddyOptions { Freetypes = FreetypeLayout.Sensitivity };
        foreach (bool shared in new[] { false, true })
        {
            var a = new PageAllocator([InitialLayout.Build(spec, options, flaggedFraction: 0.5)!], 1,
                new PageAllocatorOptions { Buddy = options, SharedPcpLists = shared });
            Freetype sens = Freetype.Make(Migratetype.Movable, 1), nonsens = Freetype.Make(Migratetype.Movable, 0);
            long s = a.Alloc(0, 0, ZoneIndex.Normal, sens);
            a.Free(0, s, 0);
            long n = a.Alloc(0, 0, ZoneIndex.Normal, nonsens);
            Assert.Equal(shared, n == s);
        }
    }
}
