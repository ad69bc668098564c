using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Snapshot;

namespace AsiTrace.Tests.Ingest;

/// <summary>The /proc snapshots recorded with the sample traces, parsed and cross-checked against each other.</summary>
public class SnapshotTests
{
    static MachineSnapshot Load() => MachineSnapshot.Load(TestPaths.Sample("dd-cat/snapshot-start"));

    [Fact]
    public void RecordedSnapshotParsesWithKnownValues()
    {
        var s = Load();
        // Recorded before record snapshotted /proc/stat.
        Assert.Equal(["stat"], s.Missing);
        Assert.Equal("6.18.44-fc-v657", s.KernelRelease);
        Assert.Equal(2, s.Cpus);
        Assert.Contains("pdpe1gb", s.CpuFlags);
        Assert.Contains("pcid", s.CpuFlags);
        Assert.Equal(26_624, s.Meminfo!["DirectMap4k"]);
        Assert.Equal(24_684_092, s.Meminfo["MemTotal"]);
        Assert.Equal(3, SnapshotParsers.SystemRam(s.Iomem!).Count);
        Assert.Equal((0x100000000UL, 0x640000000UL), SnapshotParsers.SystemRam(s.Iomem!)[2]);
        Assert.Equal(9, s.Pagetypeinfo!.PageblockOrder);
        Assert.Equal(512, s.Pagetypeinfo.PagesPerBlock);
        Assert.Equal(1528, s.Pagetypeinfo.Blocks.Single(b => b.Zone == "DMA32").BlocksByType["Movable"]);
        var normal = s.Zoneinfo!.Single(z => z.Name == "Normal");
        Assert.Equal(831_608, normal.Free);
        Assert.Equal((10_405L, 13_006L, 15_607L), (normal.Min, normal.Low, normal.High));
        Assert.Equal(1_048_576, normal.StartPfn);
        Assert.Equal(2, normal.Pagesets.Count);
        Assert.Equal(new PcpInfo(0, 42_134, 44_036, 63, 6_503, 77_824), normal.Pagesets[0]);
        Assert.Equal(5, normal.Protection.Length);
        Assert.Equal(3, s.Vmstat!["direct_map_level2_splits"]);
    }

    [Fact]
    public void BuddyinfoEqualsPagetypeinfoSummedOverMigratetypes()
    {
        // Two files read a moment apart by the recorder; the quiet zones must agree exactly, Normal nearly.
        var s = Load();
        foreach (var b in s.Buddyinfo!)
        {
            var byType = s.Pagetypeinfo!.Free.Where(f => f.Zone == b.Zone && f.Node == b.Node).ToList();
            var summed = new long[b.FreeBlocksByOrder.Length];
            foreach (var t in byType) for (int o = 0; o < summed.Length; o++) summed[o] += t.FreeBlocksByOrder[o];
            if (b.Zone == "Normal") Assert.InRange(new BuddyinfoZone(0, "x", summed).FreePages, b.FreePages * 0.99, b.FreePages * 1.01);
            else Assert.Equal(b.FreeBlocksByOrder, summed);
        }
        // zoneinfo's "pages free" counts the buddy lists only (pcp pages are not NR_FREE_PAGES).
        Assert.Equal(s.Zoneinfo!.Single(z => z.Name == "DMA").Free, s.Buddyinfo.Single(b => b.Zone == "DMA").FreePages);
    }

    [Fact]
    public void MalformedFilesNameFileAndLine()
    {
        var e = Assert.Throws<InvalidTraceException>(() => SnapshotParsers.Buddyinfo("Node 0, zone DMA 1 2 x\n", "bi"));
        Assert.Contains("bi: line 1", e.Message);
        Assert.Throws<InvalidTraceException>(() => SnapshotParsers.Iomem("00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n", "io"));
        Assert.Throws<InvalidTraceException>(() => SnapshotParsers.Pagetypeinfo("garbage\n", "pt"));
        Assert.Throws<InvalidTraceException>(() => SnapshotParsers.Meminfo("MemTotal 5 kB\n", "mi"));
    }
}
