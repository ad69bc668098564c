using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Fidelity;

/// <summary>What of the trace the noasi model was seeded or anchored with, which makes a check in-sample.</summary>
public readonly record struct FidelityInputs(bool PcpSeeded, bool StartAnchored, bool DecayAtTracedDrains);

/// <summary>The noasi replay against what the kernel did: the checks of docs/model.md §9 with their verdicts and basis.</summary>
internal static class FidelityChecks
{
    /// <summary>The checks of docs/model.md §9. A count check is in-sample when the pcp start counts were anchored to the
    /// trace's first drain (zone_locked, drains) or decay ran at the traced drains (drains); pcp pages per CPU are
    /// in-sample whenever the lists were seeded from the trace. Free pages and the free-block distribution are predictions.</summary>
    public static void Add(ReplayResult r, ReplayOptions o, long[] trace, long changedOwnership, PageAllocator a, FidelityInputs from)
    {
        long extfragModelOwn = 0;
        foreach (var z in a.Zones) if (z is not null) extfragModelOwn += z.Buddy.ExtfragChangedOwnership;
        r.Fidelity.Add(new FidelityCheck("mm_page_alloc_zone_locked", trace[(int)EventKind.MmPageAllocZoneLocked],
            a.CountEvents(AllocatorEventKind.ZoneLocked), o.CountTolerance, "buddy allocations: pcp refills and non-pcp orders", IsCount: true)
            { Basis = from.StartAnchored ? FidelityBasis.InSample : FidelityBasis.Prediction });
        r.Fidelity.Add(new FidelityCheck("mm_page_pcpu_drain", trace[(int)EventKind.MmPagePcpuDrain],
            a.CountEvents(AllocatorEventKind.PcpuDrain), o.CountTolerance, "pages drained from pcp lists to the buddy", IsCount: true)
            { Basis = from.StartAnchored || from.DecayAtTracedDrains ? FidelityBasis.InSample : FidelityBasis.Prediction });
        // Fallbacks and claims are held to the target only where the trace has enough of them to say something.
        long extfrag = trace[(int)EventKind.MmPageAllocExtfrag];
        const long MinFallbacks = 50;
        r.Fidelity.Add(new FidelityCheck("mm_page_alloc_extfrag", extfrag, a.CountEvents(AllocatorEventKind.Extfrag),
            extfrag >= MinFallbacks ? o.CountTolerance : null, $"fallbacks to another migratetype (target where the trace has {MinFallbacks}+)", IsCount: true));
        r.Fidelity.Add(new FidelityCheck("extfrag_change_ownership", changedOwnership, extfragModelOwn,
            changedOwnership >= MinFallbacks ? o.CountTolerance : null, $"fallbacks that claimed the pageblock (target where the trace has {MinFallbacks}+)", IsCount: true));
        if (o.EndSnapshot?.Zoneinfo is { } end)
        {
            var startFree = new Dictionary<string, long>();
            var stillZones = new HashSet<string>();
            foreach (var zs in o.StartSnapshot?.Zoneinfo ?? []) if (zs.Node == 0) startFree[zs.Name] = zs.Free;
            foreach (var zi in end)
            {
                if (zi.Node != 0) continue;
                int idx = ZoneIndex.FromName(zi.Name);
                if (idx < 0 || a.Zones[idx] is not { } z) continue;
                // A zone whose free pages neither the kernel nor the model moved tells a model from a no-op not at all.
                bool still = startFree.TryGetValue(zi.Name, out long sf) && sf == zi.Free && z.Buddy.FreePages == zi.Free;
                if (still) stillZones.Add(zi.Name);
                r.Fidelity.Add(new FidelityCheck($"free_pages_{zi.Name}", zi.Free, z.Buddy.FreePages, o.FreePagesTolerance,
                    "nr_free_pages at the end snapshot vs the model's buddy free pages") { NothingMoved = still });
                foreach (var pcp in zi.Pagesets)
                    if (pcp.Cpu < z.Pcp.Length && (pcp.Count > 0 || z.Pcp[pcp.Cpu].Count > 0))
                        r.Fidelity.Add(new FidelityCheck($"pcp_count_{zi.Name}_cpu{pcp.Cpu}", pcp.Count, z.Pcp[pcp.Cpu].Count, o.PcpPagesTolerance,
                            "pages on the CPU's pcp lists at the end snapshot", IsCount: true)
                            { Basis = from.PcpSeeded || from.StartAnchored ? FidelityBasis.InSample : FidelityBasis.Prediction });
            }
            if (o.EndSnapshot.Pagetypeinfo is { } pt) AddFreeBlockChecks(r, o, pt, a, stillZones);
        }
        else r.Assumptions.Add("no end snapshot: end-of-trace free pages not compared");
        if (o.StartSnapshot is null)
        {
            // Every check depends on where the model started (pcp counts and high, watermarks, the free lists): from a
            // guessed start none can judge the model. They stay in the table, marked, so a reader sees what was compared.
            for (int i = 0; i < r.Fidelity.Count; i++) r.Fidelity[i] = r.Fidelity[i] with { Basis = FidelityBasis.GuessedStart };
            r.Assumptions.Add("fidelity: no start snapshot, so the model started from a guessed layout; every check is marked no-snapshot (reported, not judged): record with asitrace record, which takes the snapshots");
        }
    }

    /// <summary>Free pages per migratetype (reported), and per zone the distance between the trace's and the model's free
    /// blocks over order × migratetype at the end (<c>/proc/pagetypeinfo</c>): half the sum of the absolute differences of
    /// the two shares, 0 when they agree and 1 when they share nothing. Blocks, not pages: by pages the few large Movable
    /// blocks would outweigh every low-order and unmovable cell.</summary>
    static void AddFreeBlockChecks(ReplayResult r, ReplayOptions o, PagetypeInfo pt, PageAllocator a, HashSet<string> stillZones)
    {
        var byZone = new Dictionary<string, List<(long Trace, long Model)>>();
        foreach (var f in pt.Free)
        {
            int idx = ZoneIndex.FromName(f.Zone), mt = ZoneSpecs.MigratetypeFromName(f.Type);
            if (f.Node != 0 || idx < 0 || mt < 0 || a.Zones[idx] is not { } z) continue;
            long tracePages = 0, modelPages = 0;
            var cells = byZone.TryGetValue(f.Zone, out var l) ? l : byZone[f.Zone] = new();
            for (int order = 0; order < f.FreeBlocksByOrder.Length && order <= z.Buddy.Options.MaxPageOrder; order++)
            {
                long t = f.FreeBlocksByOrder[order], m = z.Buddy.FreeList(order, Freetype.OfMigratetype(mt)).Count;
                tracePages += t << order;
                modelPages += m << order;
                cells.Add((t, m));
            }
            if (tracePages > 0 || modelPages > 0)
                r.Fidelity.Add(new FidelityCheck($"free_pages_{f.Zone}_{f.Type}", tracePages, modelPages, null,
                    "free pages of the migratetype at the end snapshot (pagetypeinfo)"));
        }
        foreach (var (zone, cells) in byZone)
        {
            double tt = cells.Sum(c => (double)c.Trace), mm = cells.Sum(c => (double)c.Model);
            if (tt == 0 || mm == 0) continue;
            double distance = 0.5 * cells.Sum(c => Math.Abs(c.Trace / tt - c.Model / mm));
            r.Fidelity.Add(new FidelityCheck($"free_blocks_distance_{zone}", 0, distance, o.FreeBlockDistanceTarget,
                "distance between the trace's and the model's free blocks over order × migratetype at the end (0 same, 1 disjoint)")
                { Distance = distance, NothingMoved = stillZones.Contains(zone) });
        }
    }
}
