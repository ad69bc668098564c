using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Machines;

/// <summary>The physical-memory map of the freetype policies: per bucket of pageblocks (all zones, in pfn order), the
/// fraction flagged (sensitive under asi-freetypes, unmapped under unmapped).</summary>
public static class PageblockMap
{
    public static double[] Of(PageAllocator allocator, int buckets)
    {
        var zones = new List<BuddyZone>();
        foreach (var z in allocator.Zones) if (z is not null) zones.Add(z.Buddy);
        int total = zones.Sum(z => z.PageblockCount);
        buckets = Math.Max(1, Math.Min(buckets, total));
        var map = new double[buckets];
        for (int b = 0; b < buckets; b++)
        {
            int first = (int)((long)b * total / buckets), end = (int)((long)(b + 1) * total / buckets);
            double sum = 0; int n = 0;
            int offset = 0;
            foreach (var z in zones)
            {
                int lo = Math.Max(first - offset, 0), hi = Math.Min(end - offset, z.PageblockCount);
                if (hi > lo) { sum += z.FlaggedFraction(lo, hi) * (hi - lo); n += hi - lo; }
                offset += z.PageblockCount;
            }
            map[b] = n == 0 ? 0 : sum / n;
        }
        return map;
    }
}
