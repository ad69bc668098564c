using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay;
using Xunit;

namespace AsiTrace.Tests.Model;

public class InitialLayoutTests
{
    public static TheoryData<string> Snapshots => new() { "churn/snapshot-start", "churn/snapshot-end", "dd-cat/snapshot-start", "anon-shootdown/snapshot-end" };

    /// <summary>Every free buddy's same-order buddy is not free at that order (what __free_one_page() guarantees).</summary>
    internal static void AssertCanonical(BuddyZone z)
    {
        int max = z.Options.MaxPageOrder;
        for (int o = 0; o < max; o++)
            for (int i = 0; i < Freetype.Count; i++)
                foreach (long pfn in z.FreeList(o, new Freetype(i)))
                {
                    long buddy = pfn ^ (1L << o);
                    if (!z.IsFreeHead(buddy, out int bo) || bo != o) continue;
                    Freetype a = z.PageblockFreetype(pfn), b = z.PageblockFreetype(buddy);
                    bool wouldMerge = o < z.Options.PageblockOrder || Freetype.CanMerge(a, b);
                    Assert.False(wouldMerge, $"{z.Name}: order-{o} blocks {pfn} and {buddy} are free buddies");
                }
    }

    [Theory]
    [MemberData(nameof(Snapshots))]
    public void initial_free_lists_equal_pagetypeinfo_per_zone_order_and_migratetype_and_are_canonical(string dir)
    {
        var snap = MachineSnapshot.Load(TestPaths.Sample(dir));
        var specs = ZoneSpecs.FromSnapshot(snap, []);
        Assert.NotEmpty(specs);
        foreach (var spec in specs)
        {
            var iz = InitialLayout.Build(spec, new BuddyOptions());
            Assert.NotNull(iz);
            var z = iz!.Zone;
            Assert.Empty(z.Validate());
            foreach (var row in iz.Shortfall) Assert.All(row, v => Assert.Equal(0, v));
            foreach (var f in snap.Pagetypeinfo!.Free.Where(f => f.Zone == spec.Name))
            {
                int mt = ZoneSpecs.MigratetypeFromName(f.Type);
                for (int o = 0; o < f.FreeBlocksByOrder.Length; o++)
                    Assert.Equal(f.FreeBlocksByOrder[o], z.FreeList(o, Freetype.OfMigratetype(mt)).Count);
            }
            // Free pages equal buddyinfo's sum for the zone.
            var bi = snap.Buddyinfo!.Single(b => b.Zone == spec.Name);
            Assert.Equal(bi.FreePages, z.FreePages);
            // Pageblock types equal pagetypeinfo's counts.
            var blocks = snap.Pagetypeinfo.Blocks.Single(b => b.Zone == spec.Name).BlocksByType;
            long online = blocks.Values.Sum();
            Assert.Equal(online, iz.OnlinePageblocks);
            AssertCanonical(z);
        }
    }

    [Fact]
    public void pages_held_by_older_allocations_and_non_ram_never_start_free()
    {
        var spec = new ZoneSpec
        {
            Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 0, SpannedPages = 8192,
            Ram = [(0, 6000), (6100, 8192)],
            PageblocksByType = [4, 12, 0, 0, 0, 0],
            FreeBlocks = [[40, 20, 10, 5, 3, 2, 1, 1, 1, 0, 0], [100, 50, 30, 20, 10, 6, 4, 3, 2, 1, 2], [], [], [], []],
        };
        var keep = new PfnBitmap(0, 8192);
        var rng = new Random(5);
        var kept = new List<long>();
        for (int i = 0; i < 300; i++) { long p = rng.Next(8192); keep.AddRange(p, 1); kept.Add(p); }
        var iz = InitialLayout.Build(spec, new BuddyOptions(), keep)!;
        var z = iz.Zone;
        Assert.Empty(z.Validate());
        AssertCanonical(z);
        bool IsFree(long pfn)
        {
            for (int o = 0; o <= 10; o++)
                if (z.IsFreeHead(pfn & ~((1L << o) - 1), out int fo) && fo >= o) return true;
            return false;
        }
        foreach (long p in kept) Assert.False(IsFree(p), $"kept pfn {p} is free");
        for (long p = 6000; p < 6100; p++) Assert.False(IsFree(p), $"non-RAM pfn {p} is free");
        // Whatever could not be placed is reported, never silently dropped.
        long placed = 0, wanted = 0;
        for (int mt = 0; mt < 2; mt++)
            for (int o = 0; o <= 10; o++)
            {
                long want = o < spec.FreeBlocks![mt].Length ? spec.FreeBlocks[mt][o] : 0;
                wanted += want;
                placed += z.FreeList(o, Freetype.OfMigratetype(mt)).Count;
                Assert.Equal(want, z.FreeList(o, Freetype.OfMigratetype(mt)).Count + iz.Shortfall[mt][o]);
            }
        Assert.True(placed > wanted / 2);
    }

    [Fact]
    public void without_a_snapshot_every_unheld_page_is_free_in_canonical_blocks()
    {
        var spec = new ZoneSpec { Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 4096, SpannedPages = 20480, FreeAllUnblocked = true };
        var keep = new PfnBitmap(0, 4096 + 20480);
        keep.AddRange(5000, 3);
        keep.AddRange(9000, 512);
        var iz = InitialLayout.Build(spec, new BuddyOptions(), keep)!;
        Assert.Equal(20480 - 3 - 512, iz.Zone.FreePages);
        Assert.Empty(iz.Zone.Validate());
        AssertCanonical(iz.Zone);
    }
}
