using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Tests.Model;

/// <summary>The kernel's sizing formulas against the recorded machine's zoneinfo (Linux 6.18, 2 CPUs, THP on).</summary>
public class ZoneSizingTests
{
    [Fact]
    public void setup_per_zone_wmarks_and_pcp_sizing_reproduce_the_recorded_zoneinfo()
    {
        var snap = MachineSnapshot.Load(TestPaths.Sample("dd-cat/snapshot-start"));
        var zones = snap.Zoneinfo!.Where(z => z.Managed > 0).ToList();
        Assert.Equal(["DMA", "DMA32", "Normal"], zones.Select(z => z.Name));
        long lowmemManaged = zones.Sum(z => z.Managed);
        long minFree = ZoneSizing.MinFreeKbytes(lowmemManaged * 4);
        // THP raises it: 512 × 3 zones × (2 + 9) pages = 67,584 kB.
        long recommended = ZoneSizing.ThpRecommendedMinFreeKbytes(zones.Count, 512, lowmemManaged);
        Assert.Equal(67_584, recommended);
        minFree = Math.Max(minFree, recommended);
        foreach (var z in zones)
        {
            var w = ZoneSizing.ZoneWatermarks(minFree, z.Managed, lowmemManaged);
            Assert.Equal((z.Min, z.Low, z.High, z.Promo), (w.Min, w.Low, w.High, w.Promo));
            var pcp = ZoneSizing.Pcp(z.Managed, z.Low, snap.Cpus!.Value);
            var seen = z.Pagesets[0];
            Assert.Equal(seen.Batch, pcp.Batch);
            Assert.Equal(seen.HighMin, pcp.HighMin);
            Assert.Equal(seen.HighMax, pcp.HighMax);
        }
    }

    [Theory]
    [InlineData(1L << 18, 63)]   // 1 GiB
    [InlineData(1L << 17, 31)]   // 512 MiB
    [InlineData(1L << 16, 15)]   // 256 MiB
    [InlineData(3840L, 1)]       // the DMA zone
    public void zone_batchsize_follows_the_zone_size(long managed, int batch) => Assert.Equal(batch, ZoneSizing.ZoneBatchsize(managed));
}
