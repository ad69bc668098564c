using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Alloc;

/// <summary>A zone of the node: its buddy allocator, its sizing and every CPU's pcp lists.</summary>
public sealed class AllocZone
{
    public required int Index { get; init; }
    public required BuddyZone Buddy { get; init; }
    public required ZoneSpec Spec { get; init; }
    public required PerCpuPages[] Pcp { get; init; }
    /// <summary>Shared with the pcp lists (ZONE_BELOW_HIGH, ZONE_RECLAIM_ACTIVE).</summary>
    public required ZoneFlags Flags { get; init; }
    public long PcpPages { get { long n = 0; foreach (var p in Pcp) n += p.Count; return n; } }
}

public sealed record PageAllocatorOptions
{
    public BuddyOptions Buddy { get; init; } = new();
    /// <summary><c>alloc_flags_nofragment()</c>: requests preferring ZONE_NORMAL try every zone without fragmenting first
    /// when ZONE_DMA32 exists (v5.0+).</summary>
    public bool NoFragmentForNormal { get; init; } = true;
    /// <summary><c>sysctl_stat_interval</c>: how often vmstat_update runs <c>decay_pcp_high()</c> on each CPU.</summary>
    public long StatIntervalNs { get; init; } = 1_000_000_000;
    /// <summary>Which kernel era's pcp rules (<see cref="PcpRules"/>).</summary>
    public PcpRules Pcp { get; init; } = PcpRules.V67;
    /// <summary>v6.7+ <c>free_frozen_page_commit()</c>: consecutive order-1–3 frees drain the whole pcp (free_high) once
    /// <c>free_count</c> reaches batch + high_min / 2 — true, the current rule ("mm: pcp: increase pcp->free_count threshold
    /// to trigger free_high", v6.16 by this project's reading; the corpus's 6.12 and 6.18 recordings bracket it) — or
    /// only batch (false, v6.7 to v6.15). On the 6.12 fork recording the old rule drains 2,187 pages where the kernel
    /// drained 2,177 and the new one 273; on 6.18 small files the new rule 2,333 against 2,374, the old one 13,183.</summary>
    public bool FreeHighAboveHalfHighMin { get; init; } = true;
    /// <summary>Pageblocks changed per freetype flip (docs/model.md §8.3 "flip unit"): the one the request needs plus
    /// this many − 1 more, ahead of demand.</summary>
    public int FlipPageblocks { get; init; } = 1;
    /// <summary>Ablation: pcp lists shared by both freetype flags.</summary>
    public bool SharedPcpLists { get; init; }
}

/// <summary>
/// One NUMA node's page allocator: <c>get_page_from_freelist()</c> over the zonelist (highest allowed zone down to
/// DMA) with the low watermark plus lowmem reserve, <c>ALLOC_NOFRAGMENT</c> first and then without, <c>rmqueue()</c>
/// through the CPU's pcp list for pcp orders and the buddy lists otherwise, and <c>free_frozen_pages()</c> /
/// <c>free_one_page()</c> on free. The slow path (kswapd, reclaim, compaction) is not modelled: when no zone passes
/// the min watermark the request is served from the first zone that has the pages, and counted — the trace shows the
/// kernel found memory, and the reclaim that made it appears in the trace as frees.
/// </summary>
public sealed class PageAllocator
{
    public AllocZone?[] Zones { get; } = new AllocZone?[ZoneIndex.Count];
    public PageAllocatorOptions Options { get; }
    public int Cpus { get; }
    public long AllocsBelowLow { get; private set; }
    public long AllocsBelowMin { get; private set; }
    public long FailedAllocs { get; private set; }
    public long FreesOutsideZones { get; private set; }
    /// <summary>Called after a block changed freetype (<see cref="BuddyZone.RmqueueConvert"/>): the CPU whose request
    /// or work did it, zone index, first pfn, order of the converted block, the freetype it took. Policies charge the
    /// mapping change here.</summary>
    public Action<int, int, long, int, Freetype>? OnConvert { get; set; }
    /// <summary>The CPU of the operation in progress (the kernel's <c>smp_processor_id()</c>), for <see cref="OnConvert"/>.</summary>
    int _opCpu;
    /// <summary>Requests the freetype rules refused a conversion (ALLOC_NOBLOCK under the Sep 2025 rules).</summary>
    public long ConversionsRefused { get; private set; }
    readonly long[] _nextDecay;

    public PageAllocator(IEnumerable<InitialZone> zones, int cpus, PageAllocatorOptions? options = null)
    {
        Options = options ?? new PageAllocatorOptions();
        Cpus = Math.Max(cpus, 1);
        foreach (var iz in zones)
        {
            var pcp = new PerCpuPages[Cpus];
            var flags = new ZoneFlags();
            for (int c = 0; c < Cpus; c++)
            {
                var ps = FindPcp(iz.Spec, c) ?? DefaultPcp(iz.Spec, c);
                pcp[c] = new PerCpuPages(iz.Zone, flags, c, Math.Max(ps.Batch, 1), ps.High, ps.HighMin, Math.Max(ps.HighMax, ps.HighMin), Options.Pcp,
                    Options.FreeHighAboveHalfHighMin)
                { SharedAcrossFlags = Options.SharedPcpLists };
                if (iz.PcpSeeds.TryGetValue(c, out var seeds))
                    foreach (var (pfn, order, ft) in seeds) pcp[c].Seed(pfn, order, ft);
            }
            Zones[iz.Spec.Index] = new AllocZone { Index = iz.Spec.Index, Buddy = iz.Zone, Spec = iz.Spec, Pcp = pcp, Flags = flags };
            int zoneIndex = iz.Spec.Index;
            iz.Zone.OnConvert = (pfn, order, ft) => OnConvert?.Invoke(_opCpu, zoneIndex, pfn, order, ft);
        }
        _nextDecay = new long[Cpus];
        Array.Fill(_nextDecay, long.MinValue);
    }

    ZoneFlags FlagsOf(int z) => Zones[z]!.Flags;

    /// <summary><c>isolate_freepages_block()</c> → <c>__isolate_free_page()</c>: compaction takes a free page of
    /// <paramref name="ft"/> straight off the buddy lists, highest allowed zone first — no pcp list, no
    /// <c>mm_page_alloc_zone_locked</c>. (The kernel isolates whole free blocks and splits them; one page at a time
    /// leaves the same pages in use.) −1 when no zone has one.</summary>
    public long IsolateFreePage(int highestZoneIdx, Freetype ft)
    {
        for (int z = Math.Clamp(highestZoneIdx, 0, ZoneIndex.Count - 1); z >= 0; z--)
            if (Zones[z] is { } zone && zone.Buddy.RmqueueSmallest(0, ft, emitEvent: false) is var pfn and >= 0) return pfn;
        return -1;
    }

    static PcpSpec? FindPcp(ZoneSpec spec, int cpu)
    {
        foreach (var p in spec.Pcp) if (p.Cpu == cpu) return p;
        return null;
    }

    /// <summary>Without a snapshot: <c>zone_batchsize()</c> and <c>zone_highsize()</c> from the zone's size (ZoneSizing).</summary>
    PcpSpec DefaultPcp(ZoneSpec spec, int cpu)
    {
        if (Options.Pcp != PcpRules.V67)
        {
            // Before v5.14 high was 6 × batch; v5.14–v6.6 derive it from the low watermark like high_min does today.
            int batch = ZoneSizing.ZoneBatchsize(spec.ManagedPages);
            int high = Options.Pcp == PcpRules.Legacy ? 6 * batch : ZoneSizing.Pcp(spec.ManagedPages, spec.Watermarks.Low, 1).HighMin;
            return new PcpSpec(cpu, 0, high, batch, high, high);
        }
        var s = ZoneSizing.Pcp(spec.ManagedPages, spec.Watermarks.Low, 1);
        return new PcpSpec(cpu, 0, s.HighMin, s.Batch, s.HighMin, s.HighMax);
    }

    /// <summary>The zone holding <paramref name="pfn"/>, or null.</summary>
    public AllocZone? ZoneOf(long pfn)
    {
        // Frees come in runs from one zone: the last zone found answers most lookups.
        if (_lastZone is { } last && last.Buddy.InZone(pfn)) return last;
        foreach (var z in Zones)
            if (z is not null && z.Buddy.InZone(pfn)) return _lastZone = z;
        return null;
    }

    AllocZone? _lastZone;

    /// <summary>
    /// <c>__alloc_pages()</c> → <c>get_page_from_freelist()</c>: the first zone from <paramref name="highestZoneIdx"/>
    /// down whose low watermark allows the request gets it (fast path: no ALLOC_* flags); then the slow path with
    /// <paramref name="flags"/> (<c>gfp_to_alloc_flags()</c>: MIN_RESERVE for __GFP_HIGH, NON_BLOCK for atomic, …).
    /// Returns the pfn, or −1 when no zone has a free block.
    /// </summary>
    public long Alloc(int cpu, int order, int highestZoneIdx, Freetype ft, AllocFlags flags = AllocFlags.None, AllocFlags always = AllocFlags.None)
    {
        _opCpu = cpu;
        cpu = (uint)cpu < (uint)Cpus ? cpu : 0;
        highestZoneIdx = Math.Clamp(highestZoneIdx, 0, ZoneIndex.Count - 1);
        // alloc_flags_nofragment(): only when the preferred zone is ZONE_NORMAL and ZONE_DMA32 is populated.
        int preferred = PreferredZone(highestZoneIdx);
        bool noFragment = Options.NoFragmentForNormal && preferred == ZoneIndex.Normal && Zones[ZoneIndex.Dma32] is not null;
        while (true)
        {
            long pfn = FromFreelist(cpu, order, highestZoneIdx, ft, always, noFragment, useLow: true);
            if (pfn >= 0) return pfn;
            if (!noFragment) break;
            noFragment = false; // "It's possible on a UMA machine to get through all zones that are fragmented": retry.
        }
        AllocsBelowLow++;
        // __alloc_pages_slowpath(): the min watermark (ALLOC_WMARK_MIN), then as if reclaim had made room.
        long p2 = FromFreelist(cpu, order, highestZoneIdx, ft, flags | always, false, useLow: false);
        if (p2 >= 0)
        {
            // get_page_from_freelist(): a successful ALLOC_HIGHATOMIC allocation reserves its pageblock.
            if ((flags & AllocFlags.HighAtomic) != 0 && order > 0 && ZoneOf(p2) is { } hz) hz.Buddy.ReserveHighAtomic(p2, order, hz.Spec.ManagedPages);
            return p2;
        }
        AllocsBelowMin++;
        for (int z = highestZoneIdx; z >= 0; z--)
        {
            var zone = Zones[z];
            if (zone is null) continue;
            long pfn = Rmqueue(zone, cpu, order, ft, flags | always, false);
            if (pfn >= 0) return pfn;
        }
        FailedAllocs++;
        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int PreferredZone(int highest)
    {
        for (int z = highest; z >= 0; z--) if (Zones[z] is not null) return z;
        return -1;
    }

    long FromFreelist(int cpu, int order, int highest, Freetype ft, AllocFlags flags, bool noFragment, bool useLow)
    {
        for (int z = highest; z >= 0; z--)
        {
            var zone = Zones[z];
            if (zone is null) continue;
            var wm = zone.Spec.Watermarks;
            long reserve = zone.Spec.Protect(highest);
            if (useLow)
            {
                // ZONE_BELOW_HIGH is detected here rather than on the hotter free path.
                if (!FlagsOf(z).BelowHigh)
                {
                    if (zone.Buddy.WatermarkOk(order, wm.High, reserve, flags)) goto tryThisZone;
                    FlagsOf(z).BelowHigh = true;
                    _nextTickWork = long.MinValue; // Tick checks every event until kswapd's work clears it
                }
                if (!zone.Buddy.WatermarkOk(order, wm.Low, reserve, flags)) continue;
            }
            else if (!zone.Buddy.WatermarkOk(order, wm.Min, reserve, flags)) continue;
            tryThisZone:
            long pfn = Rmqueue(zone, cpu, order, ft, flags, noFragment);
            if (pfn >= 0) return pfn;
        }
        return -1;
    }

    /// <summary><c>rmqueue()</c>: pcp orders through the CPU's list, the rest via <c>rmqueue_buddy()</c>. <paramref name="ft"/> is
    /// the requested freetype (the migratetype, without ASI).</summary>
    long Rmqueue(AllocZone zone, int cpu, int order, Freetype ft, AllocFlags flags, bool noFragment)
    {
        bool mayConvert = zone.Buddy.Options.Freetypes == FreetypeLayout.Sensitivity && (flags & AllocFlags.NoBlock) == 0;
        if (zone.Pcp[cpu].Allows(order) && ft.Mt < Migratetype.PcpTypes)
        {
            long p = zone.Pcp[cpu].Alloc(order, ft, noFragment, mayConvert);
            if (p >= 0) return p;
            if (noFragment) return -1;
        }
        // rmqueue_buddy(): HIGHATOMIC reserves first for ALLOC_HIGHATOMIC, then __rmqueue, then the reserves for
        // ALLOC_OOM / ALLOC_NON_BLOCK.
        var highAtomic = Freetype.Make(Migratetype.HighAtomic, ft.Flag);
        long pfn = -1;
        if ((flags & AllocFlags.HighAtomic) != 0) pfn = zone.Buddy.RmqueueSmallest(order, highAtomic);
        if (pfn < 0) pfn = zone.Buddy.Rmqueue(order, ft, noFragment, mayConvert: mayConvert);
        if (pfn < 0 && (flags & (AllocFlags.Oom | AllocFlags.NonBlock)) != 0) pfn = zone.Buddy.RmqueueSmallest(order, highAtomic);
        if (pfn < 0) pfn = Convert(zone, order, ft, flags);
        return pfn;
    }

    /// <summary>
    /// The freetype fallback, after the normal path and the HIGHATOMIC reserves failed: Sep 2025 <c>__rmqueue_asi()</c>
    /// flips a pageblock's sensitivity unless the request may not block; <c>__GFP_UNMAPPED</c> converts a mapped
    /// unmovable pageblock into an unmapped one (mapped requests never take unmapped blocks back here).
    /// </summary>
    long Convert(AllocZone zone, int order, Freetype ft, AllocFlags flags)
    {
        var layout = zone.Buddy.Options.Freetypes;
        if (layout == FreetypeLayout.None) return -1;
        if (layout == FreetypeLayout.Unmapped && ft.Flag == 0) return -1;
        if (layout == FreetypeLayout.Sensitivity && (flags & AllocFlags.NoBlock) != 0) { ConversionsRefused++; return -1; }
        long pfn = zone.Buddy.RmqueueConvert(order, ft, out _);
        // A flip unit of several pageblocks converts the rest ahead of demand.
        if (pfn >= 0)
            for (int k = 1; k < Options.FlipPageblocks; k++)
                if (zone.Buddy.ConvertFreePageblock(ft) < 0) break;
        return pfn;
    }

    /// <summary>
    /// <c>free_frozen_pages()</c>: pcp orders go to the CPU's list under the pageblock's type (HIGHATOMIC and CMA pages
    /// on the movable list, isolated ones straight to the buddy); other orders to <c>free_one_page()</c>.
    /// </summary>
    public bool Free(int cpu, long pfn, int order)
    {
        cpu = (uint)cpu < (uint)Cpus ? cpu : 0;
        var zone = ZoneOf(pfn);
        if (zone is null) { FreesOutsideZones++; return false; }
        var ft = zone.Buddy.PageblockFreetype(pfn);
        int mt = ft.Mt;
        if (zone.Pcp[cpu].Allows(order) && mt != Migratetype.Isolate)
        {
            zone.Pcp[cpu].Free(pfn, order, mt < Migratetype.PcpTypes ? ft : ft.WithMigratetype(Migratetype.Movable));
            return true;
        }
        zone.Buddy.FreeOnePage(pfn, order, ft);
        return true;
    }

    DecaySchedule?[] _decaySchedule = [];

    /// <summary>Runs <paramref name="cpu"/>'s <c>decay_pcp_high()</c> at these times instead of every stat interval.</summary>
    public void SetDecaySchedule(int cpu, DecaySchedule times)
    {
        if ((uint)cpu >= (uint)Cpus) return;
        if (_decaySchedule.Length < Cpus) Array.Resize(ref _decaySchedule, Cpus);
        _decaySchedule[cpu] = times;
        _nextTickWork = long.MinValue;
    }

    /// <summary>vmstat_update's <c>decay_pcp_high()</c> on every zone's pcp of <paramref name="cpu"/>, now.</summary>
    /// <returns>whether any zone's pcp changed.</returns>
    public bool DecayCpu(int cpu)
    {
        if ((uint)cpu >= (uint)Cpus) return false;
        bool changed = false;
        foreach (var z in Zones) if (z is not null) changed |= z.Pcp[cpu].Decay();
        return changed;
    }

    /// <summary>Converts one free pageblock of <paramref name="zone"/> to <paramref name="toFreetype"/> ahead of demand,
    /// as work on <paramref name="cpu"/> (<see cref="BuddyZone.ConvertFreePageblock"/>). Returns its pfn, or −1.</summary>
    public long ConvertFreePageblock(int cpu, AllocZone zone, Freetype toFreetype)
    {
        _opCpu = cpu;
        return zone.Buddy.ConvertFreePageblock(toFreetype);
    }

    /// <summary>In every zone, wholly free pageblocks of <paramref name="fromFreetype"/> beyond the first
    /// <paramref name="keepPageblocks"/> go back to <paramref name="toFreetype"/>, as work on <paramref name="cpu"/>.</summary>
    public void ReturnFreePageblocks(int cpu, Freetype fromFreetype, Freetype toFreetype, long keepPageblocks)
    {
        _opCpu = cpu;
        foreach (var z in Zones) z?.Buddy.ReturnFreePageblocks(fromFreetype, toFreetype, keepPageblocks);
    }

    /// <summary><c>free_one_page()</c> straight to the buddy, bypassing the pcp lists (the ASI RFC's deferred frees).</summary>
    public bool FreeToBuddy(long pfn, int order)
    {
        var zone = ZoneOf(pfn);
        if (zone is null) { FreesOutsideZones++; return false; }
        zone.Buddy.FreeOnePage(pfn, order, zone.Buddy.PageblockFreetype(pfn));
        return true;
    }

    /// <summary>Advances model time: vmstat_update's <c>decay_pcp_high()</c> once per stat interval on each CPU, and
    /// kswapd clearing ZONE_BELOW_HIGH once a zone is back above its high watermark.</summary>
    long _nextTickWork = long.MinValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Tick(long nowNs)
    {
        // Most events come between two decay runs and with no zone flagged below high: nothing to do (inlined into
        // the caller, which runs once per event).
        if (nowNs >= _nextTickWork) TickWork(nowNs);
    }

    void TickWork(long nowNs)
    {
        _nextTickWork = long.MaxValue;
        for (int c = 0; c < Cpus; c++)
        {
            if (c < _decaySchedule.Length && _decaySchedule[c] is { } times)
            {
                while (times.Current <= nowNs)
                {
                    times.Advance();
                    // Decay converges (high reaches high_min, the lists fit under it): the runs left before this event
                    // would change nothing, and a long idle gap must not cost one step per second of it.
                    if (!DecayCpu(c)) times.SkipPast(nowNs);
                }
                continue;
            }
            if (_nextDecay[c] == long.MinValue) { _nextDecay[c] = nowNs + Options.StatIntervalNs; continue; }
            if (nowNs < _nextDecay[c]) continue;
            _nextDecay[c] = nowNs + Options.StatIntervalNs;
            foreach (var z in Zones) z?.Pcp[c].Decay();
        }
        for (int zi = 0; zi < Zones.Length; zi++)
        {
            var z = Zones[zi];
            if (z is not null && FlagsOf(zi).BelowHigh && z.Buddy.FreePages > z.Spec.Watermarks.High) FlagsOf(zi).BelowHigh = false;
            if (z is not null && FlagsOf(zi).BelowHigh) _nextTickWork = long.MinValue; // check again at the next event
        }
        for (int c = 0; c < Cpus; c++)
        {
            long next = c < _decaySchedule.Length && _decaySchedule[c] is { } times ? times.Current : _nextDecay[c];
            if (next < _nextTickWork) _nextTickWork = next;
        }
    }

    /// <summary>Free pages in the buddy lists of all zones (what <c>nr_free_pages</c> counts; pcp pages excluded).</summary>
    public long FreePages { get { long n = 0; foreach (var z in Zones) if (z is not null) n += z.Buddy.FreePages; return n; } }

    public long CountEvents(AllocatorEventKind kind)
    {
        long n = 0;
        foreach (var z in Zones) if (z is not null) n += z.Buddy.EventCounts[(int)kind];
        return n;
    }
}
