using AsiTrace.Model.Paging;
using AsiTrace.Model.Tlb;

namespace AsiTrace.Tests.Model;

/// <summary>TLB and flush rules, named after the kernel function each follows (docs/model.md §4, §5).</summary>
public class TlbTests
{
    const ulong GiB = 1UL << 30, MiB = 1UL << 20;

    static DirectMap Map(bool global = true) =>
        DirectMap.Build([new PhysRange(MiB, 4 * GiB)], new DirectMapOptions { Global = global });

    [Fact]
    public void flush_tlb_kernel_range_switches_to_a_full_flush_above_33_pages()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 4, dm.Tables);
        ulong va = dm.VirtualAddress(0x10000);
        m.FlushTlbKernelRange(0, va, va + 33 * 4096);
        Assert.Equal(4 * 33, m.Counters.Invlpg);
        Assert.Equal(0, m.Counters.GlobalFlushes);
        m.FlushTlbKernelRange(0, va, va + 34 * 4096);
        Assert.Equal(4 * 33, m.Counters.Invlpg);
        Assert.Equal(4, m.Counters.GlobalFlushes);
        Assert.Equal(1, m.Counters.KernelSinglePageFlushes);
        Assert.Equal(1, m.Counters.KernelFullFlushes);
        // Kernel-range flushes emit no tlb_flush events.
        Assert.All(m.Counters.TraceEvents, n => Assert.Equal(0, n));
    }

    [Fact]
    public void flush_tlb_kernel_range_reaches_every_online_cpu_lazy_or_not()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SkylakeSP, 8, dm.Tables);
        var mm = new Mm(1, new PageTables());
        for (int c = 0; c < 8; c++) { m.SwitchMm(c, mm); if (c % 2 == 1) m.EnterLazy(c); }
        ulong va = dm.VirtualAddress(0x12345);
        for (int c = 0; c < 8; c++) Assert.Equal(TlbOutcome.Walk, m.TranslateKernel(c, va, out _));
        m.FlushTlbKernelRange(3, va, va + 4096);
        Assert.Equal(7, m.Counters.IpisSent);
        Assert.Equal(7, m.Counters.IpisReceived);
        for (int c = 0; c < 8; c++) Assert.Equal(TlbOutcome.Walk, m.TranslateKernel(c, va, out _));
        // Offline CPUs are not reached.
        m.SetOnline(5, false);
        m.FlushTlbKernelRange(3, va, va + 4096);
        Assert.Equal(7 + 6, m.Counters.IpisSent);
        // INVLPGB: a broadcast, no IPIs.
        var b = new TlbMachine(CpuPreset.Zen4, 8, dm.Tables, new TlbOptions { Invlpgb = true });
        b.FlushTlbKernelRange(0, va, va + 4096);
        Assert.Equal(0, b.Counters.IpisSent);
        Assert.Equal(1, b.Counters.InvlpgbBroadcasts);
    }

    [Fact]
    public void invlpg_drops_a_large_entry_covering_the_address()
    {
        var dm = Map();
        var tlb = new CpuTlb(CpuPreset.SapphireRapids);
        ulong va = dm.VirtualAddress((2 * GiB + 3 * MiB) >> 12);
        Assert.Equal(TlbOutcome.Walk, tlb.Translate(1, va, dm.Tables, true, out _));
        Assert.Equal(TlbOutcome.L1Hit, tlb.Translate(1, va + 4096, dm.Tables, true, out ulong pfn));
        Assert.Equal(((2 * GiB + 3 * MiB) >> 12) + 1, pfn);
        Assert.True(tlb.Invlpg(1, va + 8192) >= 1);
        Assert.NotEqual(TlbOutcome.L1Hit, tlb.Translate(1, va, dm.Tables, true, out _));
    }

    [Fact]
    public void a_walk_reads_one_entry_per_level_down_to_the_leaf()
    {
        var dm = DirectMap.Build([new PhysRange(0x1000, 0x9fc00), new PhysRange(MiB, 4 * GiB)]);
        var tlb = new CpuTlb(CpuPreset.SkylakeSP);
        tlb.Translate(1, dm.VirtualAddress(300), dm.Tables, true, out _);              // 4K leaf: PGD, PUD, PMD, PTE
        tlb.Translate(1, dm.VirtualAddress((4 * MiB) >> 12), dm.Tables, true, out _);   // 2M leaf: 3 reads
        tlb.Translate(1, dm.VirtualAddress((2 * GiB) >> 12), dm.Tables, true, out _);   // 1G leaf: 2 reads
        Assert.Equal(new long[] { 0, 1, 1, 1 }, tlb.WalksByLeafLevel);
        Assert.Equal(4 + 3 + 2, tlb.WalkReads);
    }

    [Fact]
    public void amd_l2_holds_1G_pages_as_2M_pieces()
    {
        var dm = Map();
        var tlb = new CpuTlb(CpuPreset.Zen4);
        ulong va = dm.VirtualAddress((3 * GiB) >> 12);
        Assert.Equal(TlbOutcome.Walk, tlb.Translate(1, va, dm.Tables, true, out _));
        // Thrash the 72-entry L1 so the next lookup must come from L2.
        for (int i = 1; i <= 200; i++) tlb.Translate(1, dm.VirtualAddress((ulong)i << 9), dm.Tables, true, out _);
        Assert.Equal(TlbOutcome.L2Hit, tlb.Translate(1, va + 4096, dm.Tables, true, out ulong pfn));
        Assert.Equal(((3 * GiB) >> 12) + 1, pfn);
        // A different 2M piece of the same 1G page is not in L2.
        Assert.Equal(TlbOutcome.Walk, tlb.Translate(1, va + 4 * MiB, dm.Tables, true, out _));
    }

    [Fact]
    public void set_associative_lru_evicts_the_least_recently_used_way()
    {
        var t = new SetAssociativeTlb("test", new TlbGeometry(8, 2)); // 4 sets × 2 ways
        // Pages 0, 4, 8 map to set 0.
        t.Insert(1, 0x0000, 1, 100, false);
        t.Insert(1, 0x4000, 1, 104, false);
        Assert.True(t.TryLookup(1, 0x0000, 1, out _)); // 0 is now most recent
        t.Insert(1, 0x8000, 1, 108, false);             // evicts 4
        Assert.True(t.TryLookup(1, 0x0000, 1, out _));
        Assert.False(t.TryLookup(1, 0x4000, 1, out _));
        Assert.True(t.TryLookup(1, 0x8000, 1, out ulong pfn));
        Assert.Equal(108UL, pfn);
        // PCID tagging: another PCID misses unless the entry is global.
        Assert.False(t.TryLookup(2, 0x8000, 1, out _));
        t.Insert(1, 0xC000, 1, 112, true);
        Assert.True(t.TryLookup(2, 0xC000, 1, out _));
        // Set 0 now holds 0x8000 (PCID 1) and the global 0xC000 (0x0000 was least recent). A CR3 flush of PCID 1 drops
        // the non-global entry and keeps the global one.
        Assert.Equal(1, t.InvalidateAll(1, includeGlobal: false));
        Assert.False(t.TryLookup(1, 0x8000, 1, out _));
        Assert.True(t.TryLookup(2, 0xC000, 1, out _));
    }

    [Fact]
    public void flush_tlb_mm_range_skips_lazy_cpus_which_catch_up_when_switching_back()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 4, dm.Tables);
        m.Counters.Trace = new();
        var mm = new Mm(1, new PageTables());
        for (int c = 0; c < 4; c++) m.SwitchMm(c, mm);
        m.EnterLazy(2);
        m.Counters.Trace.Clear();
        m.FlushTlbMmRange(0, mm, 0x400000, 0x400000 + 4 * 4096);
        // Initiator: REMOTE_SEND_IPI with 4 pages, then its own LOCAL_MM_SHOOTDOWN; CPUs 1 and 3 get the IPI; 2 is lazy.
        Assert.Equal(2, m.Counters.IpisSent);
        Assert.Contains((0, TlbFlushReason.RemoteSendIpi, 4L), m.Counters.Trace);
        Assert.Contains((1, TlbFlushReason.RemoteShootdown, 4L), m.Counters.Trace);
        Assert.Contains((3, TlbFlushReason.RemoteShootdown, 4L), m.Counters.Trace);
        Assert.Contains((0, TlbFlushReason.LocalMmShootdown, 4L), m.Counters.Trace);
        Assert.DoesNotContain(m.Counters.Trace, e => e.Cpu == 2);
        // Back from lazy: the mm moved on, so a full flush (TASK_SWITCH, -1).
        m.SwitchMm(2, mm);
        Assert.Contains((2, TlbFlushReason.TaskSwitch, -1L), m.Counters.Trace);
        // Above the ceiling every target does a full flush.
        m.Counters.Trace.Clear();
        m.FlushTlbMmRange(1, mm, 0, 34 * 4096);
        Assert.Contains((1, TlbFlushReason.RemoteSendIpi, -1L), m.Counters.Trace);
        Assert.Contains((0, TlbFlushReason.RemoteShootdown, -1L), m.Counters.Trace);
    }

    [Fact]
    public void flush_tlb_func_does_a_partial_flush_only_one_generation_behind()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 2, dm.Tables);
        m.Counters.Trace = new();
        var mm = new Mm(1, new PageTables());
        m.SwitchMm(0, mm); m.SwitchMm(1, mm);
        m.FlushTlbMmRange(0, mm, 0, 2 * 4096);
        Assert.Contains((1, TlbFlushReason.RemoteShootdown, 2L), m.Counters.Trace);
        // CPU 1 goes lazy and misses two flushes: back in, one full flush covers both (generation catch-up).
        m.EnterLazy(1);
        m.FlushTlbMmRange(0, mm, 0, 4096);
        m.FlushTlbMmRange(0, mm, 0, 4096);
        m.Counters.Trace.Clear();
        m.SwitchMm(1, mm);
        Assert.Equal([(1, TlbFlushReason.TaskSwitch, -1L)], m.Counters.Trace);
    }

    [Fact]
    public void native_flush_tlb_multi_traces_the_send_even_when_every_target_is_filtered_out()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 3, dm.Tables);
        m.Counters.Trace = new();
        var mm = new Mm(1, new PageTables());
        for (int c = 0; c < 3; c++) m.SwitchMm(c, mm);
        m.EnterLazy(1); m.EnterLazy(2);
        m.Counters.Trace.Clear();
        m.FlushTlbMmRange(0, mm, 0, 4096);
        Assert.Equal(0, m.Counters.IpisSent);
        Assert.Equal([(0, TlbFlushReason.RemoteSendIpi, 1L), (0, TlbFlushReason.LocalMmShootdown, 1L)], m.Counters.Trace);
        // Freeing page tables reaches lazy CPUs too (they switch to init_mm).
        m.FlushTlbMmRange(0, mm, 0, 4096, freedTables: true);
        Assert.Equal(2, m.Counters.IpisSent);
        Assert.Null(m.LoadedMm(1));
    }

    [Fact]
    public void flush_tlb_func_on_a_cpu_running_another_mm_removes_it_from_the_mask()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 2, dm.Tables);
        m.Counters.Trace = new();
        var a = new Mm(1, new PageTables());
        var b = new Mm(2, new PageTables());
        m.SwitchMm(0, a); m.SwitchMm(1, a);
        m.SwitchMm(1, b); // v6.14+: CPU 1 stays in a's mask
        Assert.Contains(1, a.CpuMask);
        m.FlushTlbMmRange(0, a, 0, 4096);
        Assert.Contains((1, TlbFlushReason.RemoteWrongCpu, 0L), m.Counters.Trace);
        Assert.DoesNotContain(1, a.CpuMask);
    }

    [Fact]
    public void choose_new_asid_keeps_six_mms_and_reuses_a_current_slot_without_flushing()
    {
        var dm = Map();
        var m = new TlbMachine(CpuPreset.SapphireRapids, 1, dm.Tables);
        m.Counters.Trace = new();
        var mms = Enumerable.Range(1, 7).Select(i => new Mm(i, new PageTables())).ToArray();
        for (int i = 0; i < 6; i++) m.SwitchMm(0, mms[i]);
        Assert.Equal(6, m.Counters.Trace.Count(e => e.Reason == TlbFlushReason.TaskSwitch && e.Pages == -1));
        m.SwitchMm(0, mms[0]); // still in a slot and current
        Assert.Equal((0, TlbFlushReason.TaskSwitch, 0L), m.Counters.Trace[^1]);
        m.SwitchMm(0, mms[6]); // seventh mm evicts round-robin: slot 0 (mms[0])
        m.SwitchMm(0, mms[0]); // gone: flushed again
        Assert.Equal((0, TlbFlushReason.TaskSwitch, -1L), m.Counters.Trace[^1]);
    }

    /// <summary>The safety property of the whole model: after an invalidation that covers a changed kernel mapping,
    /// no CPU returns the old translation — with global pages, with ASI-style non-global pages and PCIDs, and with INVLPGB.</summary>
    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, true)]
    public void a_stale_translation_is_never_returned_after_the_invalidation_that_covers_it(bool global, bool invalidateOther, bool invlpgb)
    {
        var rng = new Random(7);
        var dm = Map(global);
        var m = new TlbMachine(invlpgb ? CpuPreset.Zen4 : CpuPreset.SapphireRapids, 4, dm.Tables,
            new TlbOptions { GlobalPages = global, InvalidateOther = invalidateOther, Invlpgb = invlpgb });
        var mms = Enumerable.Range(1, 9).Select(i => new Mm(i, new PageTables())).ToArray();
        var unmapped = new HashSet<ulong>();
        ulong first = (4 * MiB) >> 12, span = 20_000;
        for (int step = 0; step < 6000; step++)
        {
            int cpu = rng.Next(4);
            switch (rng.Next(10))
            {
                case 0: m.SwitchMm(cpu, mms[rng.Next(mms.Length)]); break;
                case 1: m.EnterLazy(cpu); break;
                case 2:
                {
                    // Unmap a few pages from the direct map, then flush exactly that range (as secretmem does).
                    ulong pfn = first + (ulong)rng.NextInt64((long)span);
                    int n = rng.Next(1, 40);
                    dm.SetPresent(pfn, n, present: false);
                    for (ulong p = pfn; p < pfn + (ulong)n; p++) unmapped.Add(p);
                    m.FlushTlbKernelRange(cpu, dm.VirtualAddress(pfn), dm.VirtualAddress(pfn + (ulong)n));
                    break;
                }
                case 3:
                {
                    ulong pfn = first + (ulong)rng.NextInt64((long)span);
                    dm.SetPresent(pfn, 1, present: true); // making present needs no flush
                    unmapped.Remove(pfn);
                    break;
                }
                default:
                {
                    ulong pfn = first + (ulong)rng.NextInt64((long)span);
                    var outcome = m.TranslateKernel(cpu, dm.VirtualAddress(pfn), out ulong got);
                    if (unmapped.Contains(pfn)) Assert.Equal(TlbOutcome.Fault, outcome);
                    else { Assert.NotEqual(TlbOutcome.Fault, outcome); Assert.Equal(pfn, got); }
                    break;
                }
            }
        }
        Assert.True(dm.Level2Splits > 0);
    }

    /// <summary>ASI: restricted and unrestricted kernel spaces in separate PCIDs over their own direct maps; a kernel
    /// flush covers both, so neither space ever returns a translation the flush covered.</summary>
    [Fact]
    public void asi_spaces_use_separate_pcids_and_kernel_flushes_cover_both()
    {
        var rng = new Random(11);
        var full = DirectMap.Build([new PhysRange(MiB, 1 * GiB)], new DirectMapOptions { Global = false });
        var restricted = DirectMap.Build([new PhysRange(MiB, 1 * GiB)], new DirectMapOptions { Restricted = true, Global = false });
        // Nonsensitive pageblocks are present in the restricted map.
        for (ulong block = 2; block < 200; block += 3) restricted.SetPresent(block * 512, 512, present: true);
        var m = new TlbMachine(CpuPreset.SapphireRapids, 2, full.Tables, new TlbOptions { GlobalPages = false, InvalidateOther = true }) { Restricted = restricted.Tables };
        var mms = Enumerable.Range(1, 8).Select(i => new Mm(i, new PageTables())).ToArray();
        ulong va0 = full.VirtualAddress(1024);
        Assert.Equal(TlbOutcome.Walk, m.TranslateKernel(0, va0, restricted: false, out _));
        Assert.Equal(TlbOutcome.Walk, m.TranslateKernel(0, va0, restricted: true, out _)); // its own PCID: no hit from the other space
        Assert.Equal(TlbOutcome.L1Hit, m.TranslateKernel(0, va0, restricted: true, out _));
        for (int step = 0; step < 5000; step++)
        {
            int cpu = rng.Next(2);
            ulong pfn = 512 + (ulong)rng.Next(100_000);
            switch (rng.Next(8))
            {
                case 0: m.SwitchMm(cpu, mms[rng.Next(mms.Length)]); break;
                case 1:
                    // A page becomes sensitive: gone from the restricted map (a 2M leaf splits), flushed.
                    restricted.SetPresent(pfn, 1, present: false);
                    m.FlushTlbKernelRange(cpu, full.VirtualAddress(pfn), full.VirtualAddress(pfn + 1));
                    break;
                default:
                    bool inRestricted = rng.Next(2) == 0;
                    var outcome = m.TranslateKernel(cpu, full.VirtualAddress(pfn), inRestricted, out ulong got);
                    var truth = (inRestricted ? restricted : full).Tables.Lookup(full.VirtualAddress(pfn));
                    if (!truth.Present) Assert.Equal(TlbOutcome.Fault, outcome);
                    else Assert.Equal(pfn, got);
                    break;
            }
        }
        Assert.True(restricted.Level2Splits > 0);
    }

    [Fact]
    public void presets_and_costs_say_where_their_numbers_come_from()
    {
        Assert.Equal(6, CpuPreset.All.Count);
        Assert.All(CpuPreset.All, p => Assert.False(string.IsNullOrWhiteSpace(p.Source)));
        Assert.NotNull(CpuPreset.Find("zen4"));
        var c = new CostModel();
        Assert.False(c.InvlpgPerPage.Estimate);
        Assert.True(c.Ibpb.Estimate);
        var o = c.WithOverrides("{\"InvlpgPerPage\": 120, \"CpuGhz\": 3.0, \"Ibpb\": 6000}");
        Assert.Equal(120, o.InvlpgPerPage.Value);
        Assert.Equal(2000, o.Ibpb.Ns(o.CpuGhz));
        Assert.Throws<FormatException>(() => c.WithOverrides("{\"NoSuchCost\": 1}"));
        Assert.Throws<FormatException>(() => c.WithOverrides("{\"InvlpgPerPage\": -1}"));
        var counters = new FlushCounters { Invlpg = 10, GlobalFlushes = 2, IpisSent = 3, IpisReceived = 3 };
        Assert.Equal(10 * 100 + 2 * 300 / 2.5 + 3 * 700 + 3 * 200, c.FlushNs(counters), 6);
    }
}
