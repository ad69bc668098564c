using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Tests.Replay;

public class PreScanTests
{
    static PreScan Scan(string sample, bool trackPcpLists)
    {
        var scan = new PreScan(1L << 28, [(1, 4096, 0), (4096, 1L << 20, 1), (1L << 20, 1L << 28, 2)], trackPcpLists);
        using var reader = TraceOpener.Open(TestPaths.Sample(sample), new IngestOptions());
        var buf = new TraceEvent[4096];
        int n;
        while ((n = reader.Read(buf)) > 0) scan.Add(buf.AsSpan(0, n));
        return scan;
    }

    [Fact]
    public void without_pcp_tracking_the_pre_scan_finds_the_same_pre_trace_pages_decay_points_and_span()
    {
        // The replay skips the pcp-list balances when no snapshot gives pcp counts to seed (nothing reads them then);
        // everything else the replay reads must not depend on that. The churn sample (6.18) has drains, decay runs and frees of
        // pages allocated before the trace.
        var tracked = Scan("churn", trackPcpLists: true);
        var untracked = Scan("churn", trackPcpLists: false);
        Assert.Equal(tracked.Events, untracked.Events);
        Assert.Equal(tracked.MaxCpu, untracked.MaxCpu);
        Assert.Equal(tracked.MaxPfn, untracked.MaxPfn);
        Assert.Equal((tracked.FirstTs, tracked.LastTs), (untracked.FirstTs, untracked.LastTs));
        Assert.Equal(tracked.SensitivePageFraction, untracked.SensitivePageFraction);
        Assert.Equal(tracked.PageCacheAllocations, untracked.PageCacheAllocations);
        Assert.NotEmpty(tracked.DecayPointsByCpu);
        Assert.Equal(tracked.DecayPointsByCpu.Keys.Order(), untracked.DecayPointsByCpu.Keys.Order());
        foreach (var (cpu, points) in tracked.DecayPointsByCpu) Assert.Equal(points, untracked.DecayPointsByCpu[cpu]);
        long preTrace = 0;
        for (long pfn = 0; pfn <= tracked.MaxPfn; pfn++)
        {
            Assert.Equal(tracked.KeepAllocated.Contains(pfn), untracked.KeepAllocated.Contains(pfn));
            if (tracked.KeepAllocated.Contains(pfn)) preTrace++;
        }
        Assert.True(preTrace > 0, "the sample frees pages allocated before the trace");

        // With tracking, the pcp lists show what the trace implies; without, nothing is claimed.
        var lists = (from cpu in Enumerable.Range(0, tracked.MaxCpu + 1) from zone in new[] { 0, 1, 2 } select (cpu, zone)).ToList();
        Assert.Contains(lists, l => tracked.PagesBeforeFirstDrain(l.cpu, l.zone) is not null);
        Assert.Contains(lists, l => tracked.MinimumPcpBlocks(l.cpu, l.zone).Any(b => b > 0));
        Assert.NotEmpty(tracked.Order0AllocsByCpu);
        Assert.All(lists, l => Assert.Null(untracked.PagesBeforeFirstDrain(l.cpu, l.zone)));
        Assert.All(lists, l => Assert.All(untracked.MinimumPcpBlocks(l.cpu, l.zone), b => Assert.Equal(0, b)));
        Assert.Empty(untracked.Order0AllocsByCpu);
    }
}
