using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay;

/// <summary>Turns a machine snapshot (zoneinfo, pagetypeinfo, iomem) into the model's zone specifications.</summary>
public static class ZoneSpecs
{
    public static int MigratetypeFromName(string name) => name switch
    {
        "Unmovable" => Migratetype.Unmovable,
        "Movable" => Migratetype.Movable,
        "Reclaimable" => Migratetype.Reclaimable,
        "HighAtomic" => Migratetype.HighAtomic,
        "CMA" => Migratetype.Cma,
        "Isolate" => Migratetype.Isolate,
        _ => -1,
    };

    /// <summary>A zone's span must lie in the machine: within 52-bit physical addresses, within one zone's page-state
    /// array (2^31 pages, 8 TiB), and, when iomem shows RAM, ending no later than a section (2^15 pages, 128 MiB) past
    /// its last System RAM range (zone_end_pfn is the end of the RAM it holds, rounded to a section at most).</summary>
    static void CheckZone(string dir, ZoneInfo zi, long ramEnd)
    {
        string where = $"zoneinfo zone {zi.Name}";
        if (zi.StartPfn >= MachineLimits.MaxPfn || zi.Spanned >= MachineLimits.MaxPfn || zi.StartPfn + zi.Spanned > MachineLimits.MaxPfn)
            throw new InvalidTraceException(dir, where, $"start_pfn {zi.StartPfn} spanned {zi.Spanned} reach past the largest x86-64 physical address");
        if (zi.Spanned > int.MaxValue)
            throw new InvalidTraceException(dir, where, $"spanned {zi.Spanned} pages is more than one zone the model holds (2^31 pages, 8 TiB)");
        if (ramEnd < MachineLimits.MaxPfn && zi.StartPfn + zi.Spanned > ramEnd + (1L << 15))
            throw new InvalidTraceException(dir, where, $"start_pfn {zi.StartPfn} + spanned {zi.Spanned} ends past the last System RAM in iomem (pfn {ramEnd})");
        if (zi.Managed < 0 || zi.Managed > zi.Spanned || zi.Free < 0 || zi.Free > zi.Spanned)
            throw new InvalidTraceException(dir, where, $"managed {zi.Managed} or free {zi.Free} does not fit in spanned {zi.Spanned}");
    }

    /// <summary>Zone specifications of node 0 from <paramref name="snap"/>; zones that span nothing are left out.</summary>
    public static List<ZoneSpec> FromSnapshot(MachineSnapshot snap, List<string> assumptions)
    {
        var specs = new List<ZoneSpec>();
        if (snap.Zoneinfo is null) throw new InvalidTraceException(snap.Directory, "zoneinfo", "the snapshot has no zoneinfo; the model needs one to size the zones");
        var ram = new List<(long, long)>();
        if (snap.Iomem is { } iomem)
            foreach (var (start, end) in SnapshotParsers.SystemRam(iomem))
            {
                if (end >= (ulong)MachineLimits.MaxPfn << 12 || end < start)
                    throw new InvalidTraceException(snap.Directory, "iomem", $"System RAM range {start:x}-{end:x} is not a physical address range of an x86-64 machine (52 bits)");
                ram.Add(((long)(start >> 12), (long)((end + 4095) >> 12)));
            }
        long ramEnd = ram.Count > 0 ? ram.Max(r => r.Item2) : MachineLimits.MaxPfn;
        if (ram.Count == 0) assumptions.Add("no /proc/iomem System RAM ranges (not recorded as root?): every pfn in a zone span taken as RAM");
        var pt = snap.Pagetypeinfo;
        if (pt is null) assumptions.Add("no pagetypeinfo: pageblocks taken as movable and free memory from zoneinfo as max-order blocks");
        if (snap.Zoneinfo.Any(z => z.Node != 0)) assumptions.Add("more than one NUMA node in zoneinfo: only node 0 is modelled");
        foreach (var zi in snap.Zoneinfo)
        {
            if (zi.Node != 0 || zi.Spanned <= 0 || zi.StartPfn < 0) continue;
            int index = ZoneIndex.FromName(zi.Name);
            if (index < 0) continue;
            CheckZone(snap.Directory, zi, ramEnd);
            long[]? blocks = null;
            long[][]? free = null;
            if (pt is not null)
            {
                foreach (var b in pt.Blocks)
                    if (b.Node == 0 && b.Zone == zi.Name)
                    {
                        blocks = new long[Migratetype.Count];
                        foreach (var (name, n) in b.BlocksByType) { int mt = MigratetypeFromName(name); if (mt >= 0) blocks[mt] = n; }
                    }
                foreach (var f in pt.Free)
                {
                    if (f.Node != 0 || f.Zone != zi.Name) continue;
                    int mt = MigratetypeFromName(f.Type);
                    if (mt < 0) continue;
                    free ??= new long[Migratetype.Count][];
                    free[mt] = f.FreeBlocksByOrder;
                }
                if (free is not null) for (int t = 0; t < free.Length; t++) free[t] ??= [];
            }
            else
            {
                free = new long[Migratetype.Count][];
                for (int t = 0; t < free.Length; t++) free[t] = [];
                // No pagetypeinfo: the zone's free pages as MAX_PAGE_ORDER movable blocks.
                int maxOrder = new BuddyOptions().MaxPageOrder;
                var mov = new long[maxOrder + 1];
                mov[maxOrder] = zi.Free >> maxOrder;
                free[Migratetype.Movable] = mov;
            }
            // v6.7+ tunes high between high_min and high_max, which zoneinfo prints only since later kernels (6.12 does
            // not): then they come from zone_set_pageset_high_and_batch()'s zone_highsize() — the low watermark and an
            // eighth of the managed pages, split over the node's CPUs — with the printed high as the start value.
            bool tuned = KernelEra.Parse(snap.KernelRelease) is { } release && KernelEra.Pcp(release) == PcpRules.V67;
            var sizing = ZoneSizing.Pcp(zi.Managed, zi.Low, snap.Cpus ?? Math.Max(zi.Pagesets.Count, 1));
            if (tuned && zi.Pagesets.Any(p => p.HighMin is null || p.HighMax is null))
                assumptions.Add($"{zi.Name}: zoneinfo prints no high_min/high_max; from zone_highsize(): high_min {sizing.HighMin}, high_max {sizing.HighMax} (each CPU's printed high is where it starts)");
            var pcp = zi.Pagesets.Select(p => new PcpSpec(p.Cpu, (int)p.Count, (int)p.High, (int)p.Batch,
                (int)(p.HighMin ?? (tuned ? Math.Min(sizing.HighMin, p.High) : p.High)),
                (int)(p.HighMax ?? (tuned ? Math.Max(sizing.HighMax, p.High) : p.High)))).ToList();
            var zram = ram.Where(r => r.Item2 > zi.StartPfn && r.Item1 < zi.StartPfn + zi.Spanned)
                .Select(r => (Math.Max(r.Item1, zi.StartPfn), Math.Min(r.Item2, zi.StartPfn + zi.Spanned))).ToList();
            specs.Add(new ZoneSpec
            {
                Name = zi.Name, Index = index, StartPfn = zi.StartPfn, SpannedPages = zi.Spanned, ManagedPages = zi.Managed,
                Watermarks = new Watermarks(zi.Min, zi.Low, zi.High, zi.Promo), Protection = zi.Protection,
                Ram = zram, PageblocksByType = blocks, FreeBlocks = free, Pcp = pcp,
            });
        }
        return specs;
    }
}
