namespace AsiTrace.Model.Alloc;

/// <summary>Watermarks of one zone (pages).</summary>
public readonly record struct Watermarks(long Min, long Low, long High, long Promo);

/// <summary>pcp sizing of one zone for one CPU (pages).</summary>
public readonly record struct PcpSizing(int Batch, int HighMin, int HighMax);

/// <summary>
/// The kernel's sizing formulas (docs/model.md §1.9, §1.10), so a model without a snapshot gets the values a
/// machine of that size would have: <c>min_free_kbytes</c> (with THP's recommended minimum),
/// <c>__setup_per_zone_wmarks()</c>, <c>zone_batchsize()</c>, <c>zone_highsize()</c>.
/// </summary>
public static class ZoneSizing
{
    /// <summary><c>calculate_min_free_kbytes()</c>: int_sqrt(lowmem kB × 16), clamped to [128, 262144].</summary>
    public static long MinFreeKbytes(long lowmemKb) => Math.Clamp((long)Math.Sqrt((double)lowmemKb * 16), 128, 262144);

    /// <summary><c>set_recommended_min_free_kbytes()</c> (THP): 2 pageblocks per zone plus 3 × 3 per zone for the pcp
    /// types, at most 5% of lowmem; min_free_kbytes is raised to it.</summary>
    public static long ThpRecommendedMinFreeKbytes(int populatedZones, int pageblockPages, long lowmemFreePages)
    {
        long pages = (long)pageblockPages * populatedZones * 2 + (long)pageblockPages * populatedZones * Migratetype.PcpTypes * Migratetype.PcpTypes;
        pages = Math.Min(pages, lowmemFreePages / 20);
        return pages * 4;
    }

    /// <summary><c>__setup_per_zone_wmarks()</c> for a lowmem zone: min is its share of min_free_kbytes; low, high and
    /// promo each add max(min/4, managed × watermark_scale_factor / 10000).</summary>
    public static Watermarks ZoneWatermarks(long minFreeKbytes, long managed, long lowmemManaged, int watermarkScaleFactor = 10)
    {
        long pagesMin = minFreeKbytes >> 2;
        long min = lowmemManaged == 0 ? 0 : pagesMin * managed / lowmemManaged;
        long gap = Math.Max(min >> 2, managed * watermarkScaleFactor / 10000);
        return new Watermarks(min, min + gap, min + 2 * gap, min + 3 * gap);
    }

    /// <summary><c>zone_batchsize()</c> (and <c>max(1, …)</c> in <c>zone_set_pageset_high_and_batch()</c>).</summary>
    public static int ZoneBatchsize(long managed)
    {
        long batch = Math.Min(managed >> 10, (1 << 20) / 4096);
        batch /= 4;
        if (batch < 1) batch = 1;
        long v = batch + batch / 2;
        long pow = 1;
        while (pow * 2 <= v) pow *= 2;
        return (int)Math.Max(1, pow - 1);
    }

    /// <summary><c>zone_highsize()</c>: the low watermark (or managed / fraction) shared among the node's CPUs, at least
    /// 4 × batch. high_min uses the low watermark, high_max the fraction 8 (v6.7+ auto-tuning bounds).</summary>
    public static PcpSizing Pcp(long managed, long lowWatermark, int cpusOfNode)
    {
        int batch = ZoneBatchsize(managed);
        int n = Math.Max(1, cpusOfNode);
        int highMin = (int)Math.Max(lowWatermark / n, batch << 2);
        int highMax = (int)Math.Max(managed / 8 / n, batch << 2);
        return new PcpSizing(batch, highMin, highMax);
    }
}
