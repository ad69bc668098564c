using AsiTrace.Ingest.Canonical;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay.Requests;
using Xunit;

namespace AsiTrace.Tests.Replay;

public class RequestReconstructorTests
{
    /// <summary>Records what reaches a policy; places every allocation at trace pfn + 1 000 000.</summary>
    sealed class Recorder : IRequestSink
    {
        public List<string> Log { get; } = new();
        public long Alloc(in AllocRequest r) { Log.Add($"alloc {r.TracePfn} o{r.Order} mt{r.Migratetype} z{r.HighestZoneIdx}"); return r.TracePfn + 1_000_000; }
        public void Free(in FreeRequest r, long modelPfn) => Log.Add($"free {modelPfn} o{r.Order} id{r.AllocId}");
        public void Observe(in TraceEvent e) { }
        public void PageCacheAccess(in TraceEvent e, long modelPfn, int pages) => Log.Add($"pagecache {modelPfn} x{pages}");
        public void FileCopy(in TraceEvent e, int pages) => Log.Add($"copy x{pages}");
        public double LastAllocCostNs => 0;
    }

    static TraceEvent Alloc(long pfn, int order, int mt = 1, ulong gfp = (ulong)(Gfp.Movable | Gfp.Highmem), int cpu = 0) => new()
    {
        Kind = EventKind.MmPageAlloc, Pfn = (ulong)pfn, Order = (byte)order, Migratetype = (sbyte)mt, Gfp = gfp, Cpu = (ushort)cpu,
        Fields = EventFields.Pfn | EventFields.Order | EventFields.Migratetype | EventFields.Gfp,
    };

    static TraceEvent Free(long pfn, int order, int cpu = 0) => new()
    { Kind = EventKind.MmPageFree, Pfn = (ulong)pfn, Order = (byte)order, Cpu = (ushort)cpu, Fields = EventFields.Pfn | EventFields.Order };

    static TraceEvent Batched(long pfn, int cpu = 0) => new()
    { Kind = EventKind.MmPageFreeBatched, Pfn = (ulong)pfn, Cpu = (ushort)cpu, Fields = EventFields.Pfn };

    [Fact]
    public void a_high_order_allocation_freed_in_pieces_frees_the_same_pieces_of_the_model_block()
    {
        var rec = new Recorder();
        var r = new RequestReconstructor([rec], null);
        r.Add(Alloc(4096, 2));
        r.Add(Free(4097, 0));
        r.Add(Free(4098, 1));
        r.Add(Free(4096, 0));
        Assert.Equal(["alloc 4096 o2 mt1 z3", "free 1004097 o0 id0", "free 1004098 o1 id0", "free 1004096 o0 id0"], rec.Log);
        Assert.Equal(0, r.LiveAllocations);
        Assert.Empty(r.Anomalies);
    }

    [Fact]
    public void a_batched_free_repeating_the_free_before_it_is_dropped_and_one_without_a_twin_is_a_free()
    {
        var rec = new Recorder();
        var r = new RequestReconstructor([rec], null);
        r.Add(Alloc(100, 0)); r.Add(Alloc(200, 0));
        r.Add(Free(100, 0)); r.Add(Batched(100));
        r.Add(Batched(200)); // mm_pagevec_free era: the only free of this page
        Assert.Equal(1, r.BatchedDuplicates);
        Assert.Equal(1, r.Anomalies["batched_free_without_twin"]);
        Assert.Equal(2, r.Frees);
        Assert.Equal(0, r.LiveAllocations);
    }

    [Fact]
    public void older_allocations_are_freed_at_their_traced_pfn_once_and_odd_events_are_counted_not_fatal()
    {
        var rec = new Recorder();
        var keep = new PfnBitmap(0, 1 << 20);
        keep.AddRange(777, 1);
        var r = new RequestReconstructor([rec], keep);
        r.Add(Free(777, 0));        // allocated before the trace
        r.Add(Alloc(500, 0));
        r.Add(Alloc(500, 0));       // its free was lost: released first
        r.Add(Free(900, 0));        // never allocated in the trace, not older: an untraced (bulk) allocation
        r.Add(Alloc(0, 0) with { Pfn = 0 }); // failed allocation (NULL page)
        r.Add(new TraceEvent { Kind = EventKind.LostEvents, Cpu = 0, Lost = 10, Fields = EventFields.Lost });
        r.Add(Free(901, 0));
        Assert.Equal(1, r.PreexistingFrees);
        Assert.Contains("free 777 o0 id-1", rec.Log);
        Assert.Equal(1, r.Anomalies["alloc_of_live_pfn"]);
        Assert.Equal(1, r.Anomalies["free_without_traced_alloc"]);
        Assert.Equal(1, r.Anomalies["free_without_traced_alloc_after_lost_events"]);
        Assert.Equal(1, r.Anomalies["failed_allocations"]);
        Assert.Equal(1, r.LiveAllocations);
        // The stale allocation was released in the model before the new one was placed.
        Assert.Equal(["free 777 o0 id-1", "alloc 500 o0 mt1 z3", "free 1000500 o0 id0", "alloc 500 o0 mt1 z3"], rec.Log.Take(4));
    }

    [Theory]
    [InlineData((ulong)Gfp.Dma, ZoneIndex.Dma)]
    [InlineData((ulong)Gfp.Dma32, ZoneIndex.Dma32)]
    [InlineData((ulong)(Gfp.Highmem | Gfp.Movable), ZoneIndex.Movable)]
    [InlineData((ulong)Gfp.Movable, ZoneIndex.Normal)]
    [InlineData(0UL, ZoneIndex.Normal)]
    public void gfp_zone(ulong gfp, int zone) => Assert.Equal(zone, RequestReconstructor.GfpZone(gfp, true));
}
