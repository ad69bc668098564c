using AsiTrace.Model.Alloc;
using AsiTrace.Model.Paging;
using AsiTrace.Replay.Results;
using M = AsiTrace.Replay.Results.Metrics;

namespace AsiTrace.Replay.Machines;

/// <summary>Reads a machine's counters, maps and ledger into its metrics (names in <see cref="Metrics"/>).</summary>
public static class MachineMetrics
{
    public static void AddTo(Machine machine, MetricValues m)
    {
        var c = machine.Counters;
        var f = machine.ModelFlushes;
        var dm = machine.DirectMap;
        var ledger = machine.SettledLedger();
        m[M.BytesZeroed] = c.BytesZeroed;
        m[M.PagesZeroedForFlips] = c.PagesZeroedForFlip;
        m[M.PageblockFlips] = c.PageblockFlipsToNonsensitive + c.PageblockFlipsToSensitive;
        m[M.PageblockFlipsToNonsensitive] = c.PageblockFlipsToNonsensitive;
        m[M.PageblockFlipsToSensitive] = c.PageblockFlipsToSensitive;
        m[M.UnmappedPageblocks] = c.UnmappedPageblocks;
        m[M.PerAllocationUnmaps] = c.PerAllocationUnmaps;
        m[M.UnmappedPageblocksReturned] = c.UnmappedPageblocksReturned;
        m[M.DirectMapSplits1G] = machine.CpaDirect.Splits1G;
        m[M.DirectMapSplits2M] = machine.CpaDirect.Splits2M;
        m[M.RestrictedMapSplits2M] = machine.CpaRestricted.Splits2M;
        m[M.PageTablePages] = machine.CpaDirect.TablePages + machine.CpaRestricted.TablePages;
        m[M.DirectMap4kPages] = dm.Pages[PageLevel.Pte];
        m[M.DirectMap2mPages] = dm.Pages[PageLevel.Pmd];
        m[M.DirectMap1gPages] = dm.Pages[PageLevel.Pud];
        if (machine.Restricted is { } rm)
        {
            m[M.RestrictedMap4kPages] = rm.Pages[PageLevel.Pte];
            m[M.RestrictedMap2mPages] = rm.Pages[PageLevel.Pmd];
        }
        m[M.KernelRangeFlushes] = f.KernelRangeFlushes;
        m[M.KernelRangeFlushesSingle] = f.KernelSinglePageFlushes;
        m[M.KernelRangeFlushesFull] = f.KernelFullFlushes;
        m[M.TlbFlushAll] = f.GlobalFlushes;
        m[M.IpisSent] = f.IpisSent;
        m[M.IpisReceived] = f.IpisReceived;
        m[M.TlbMisses] = machine.Walks();
        m[M.TlbAccessesUnrestricted] = machine.Accesses[0];
        m[M.TlbAccessesRestricted] = machine.Accesses[1];
        m[M.TlbMissesUnrestricted] = machine.AccessMisses[0];
        m[M.TlbMissesRestricted] = machine.AccessMisses[1];
        m[M.TlbMissesWalk4k] = WalksEndingAt(machine, PageLevel.Pte);
        m[M.TlbMissesWalk2m] = WalksEndingAt(machine, PageLevel.Pmd);
        m[M.TlbMissesWalk1g] = WalksEndingAt(machine, PageLevel.Pud);
        m[M.AsiExits] = c.TotalAsiExits();
        m[M.AsiExitsPageCache] = c.AsiExits[(int)ExitCause.PageCache];
        m[M.AsiExitsZeroing] = c.AsiExits[(int)ExitCause.Zeroing];
        m[M.AsiExitsCow] = c.AsiExits[(int)ExitCause.CopyOnWrite];
        m[M.AsiExitsContextSwitch] = c.AsiExits[(int)ExitCause.ContextSwitch];
        m[M.AsiExitsOther] = c.AsiExits[(int)ExitCause.Other];
        m[M.KernelEntries] = machine.Entries.Count;
        m[M.AsiExitsInSyscalls] = c.ExitsByEntry[(int)EntryKind.Syscall];
        m[M.AsiExitsInFaults] = c.ExitsByEntry[(int)EntryKind.Fault];
        m[M.AsiExitsInGuestExits] = c.ExitsByEntry[(int)EntryKind.GuestExit];
        m[M.AsiExitsInInferredEntries] = c.ExitsByEntry[(int)EntryKind.Inferred];
        m[M.AsiExitsOutsideEntries] = c.ExitsByEntry[(int)EntryKind.None];
        m[M.MermapPages] = c.MermapPages;
        m[M.MermapLocalFlushes] = c.MermapLocalFlushes;
        m[M.EphmapPages] = c.EphmapPages;
        m[M.TlbShootdownIpis] = c.TracedIpisReceived;
        m[M.TlbShootdownsSent] = c.TracedIpisSent;
        m[M.TlbFlushesFull] = c.TracedFullFlushes;
        m[M.TlbFlushPagesSingle] = c.TracedSinglePages;
        var a = machine.Allocator;
        m[M.Extfrag] = a.CountEvents(AllocatorEventKind.Extfrag);
        m[M.ZoneLocked] = a.CountEvents(AllocatorEventKind.ZoneLocked);
        m[M.PcpuDrain] = a.CountEvents(AllocatorEventKind.PcpuDrain);
        m[M.FreePages] = a.FreePages;
        m[M.FreePagesIn2mBlocks] = FreePagesInPageblocks(a);
        m[M.AllocsBelowLowWatermark] = a.AllocsBelowLow;
        m[M.AllocsBelowMinWatermark] = a.AllocsBelowMin;
        m[M.ModelAllocationFailures] = c.ModelFailures;
        m[M.LatencyNs] = ledger.LatencyNs;
        // Every constant at the low, then the high end of its range (docs/costs.md): totals only rise with a constant.
        var low = machine.Costs.NsVector(k => k.Low);
        var high = machine.Costs.NsVector(k => k.High);
        m[M.EstimatedLowNs] = ledger.CpuTimeAt(low);
        m[M.EstimatedHighNs] = ledger.CpuTimeAt(high);
        m[M.LatencyLowNs] = ledger.LatencyAt(low);
        m[M.LatencyHighNs] = ledger.LatencyAt(high);
        m[M.FileCopies] = c.FileCopies;
        m[M.FileCopyPages] = c.FileCopyPages;
        m[M.CowCopies] = c.CowCopies;
        m[M.CostCopyNs] = ledger[CostCause.Copy];
        m[M.CostZeroingNs] = ledger[CostCause.Zeroing];
        m[M.CostTlbNs] = ledger[CostCause.TracedTlb];
        m[M.CostAsiTransitionsNs] = ledger[CostCause.AsiTransitions];
        m[M.CostMermapNs] = ledger[CostCause.Mermap];
        m[M.CostModelFlushesNs] = ledger[CostCause.ModelFlushes];
        m[M.CostPageTablePagesNs] = ledger[CostCause.PageTablePages];
        m[M.CostTlbMissesNs] = ledger[CostCause.TlbMisses];
    }

    static long WalksEndingAt(Machine machine, int level)
    {
        long n = 0;
        foreach (var cpu in machine.Tlb.BuiltCpus) n += cpu.WalksByLeafLevel[level];
        return n;
    }

    /// <summary>Free pages in blocks of pageblock order or more: memory a 2 MiB user could still get.</summary>
    static long FreePagesInPageblocks(PageAllocator a)
    {
        long big = 0;
        foreach (var z in a.Zones)
            if (z is not null)
                for (int o = z.Buddy.Options.PageblockOrder; o <= z.Buddy.Options.MaxPageOrder; o++) big += z.Buddy.NrFree(o) << o;
        return big;
    }
}
