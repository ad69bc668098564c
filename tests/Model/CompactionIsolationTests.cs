using AsiTrace.Model.Alloc;
using Xunit;

namespace AsiTrace.Tests.Model;

public class CompactionIsolationTests
{
    [Fact]
    public void a_compaction_target_comes_off_the_buddy_lists_without_the_pcp_or_a_zone_locked_event()
    {
        var spec = new ZoneSpec { Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 0, SpannedPages = 4096, ManagedPages = 4096,
            Watermarks = new Watermarks(1, 2, 3, 3), Protection = [0, 0, 0, 0], FreeAllUnblocked = true, Pcp = [new PcpSpec(0, 0, 64, 4, 64, 64)] };
        var a = new PageAllocator([InitialLayout.Build(spec, new BuddyOptions())!], 1);
        var movable = Freetype.OfMigratetype(Migratetype.Movable);
        long free = a.FreePages, pcp = a.Zones[ZoneIndex.Normal]!.Pcp[0].Count;
        long p = a.IsolateFreePage(ZoneIndex.Normal, movable);
        Assert.True(p >= 0);
        Assert.Equal(free - 1, a.FreePages);
        Assert.Equal(pcp, a.Zones[ZoneIndex.Normal]!.Pcp[0].Count);
        Assert.Equal(0, a.CountEvents(AllocatorEventKind.ZoneLocked));
        // An ordinary allocation of the same page type goes through the pcp list: a refill, traced.
        Assert.True(a.Alloc(0, 0, ZoneIndex.Normal, movable) >= 0);
        Assert.True(a.CountEvents(AllocatorEventKind.ZoneLocked) > 0);
        // Asking for a zone below any that exists finds nothing.
        Assert.Equal(-1, a.IsolateFreePage(ZoneIndex.Dma, movable));
    }
}
