using AsiTrace.Model.Paging;
using AsiTrace.Model.Tlb;

namespace AsiTrace.Tests.Model;

/// <summary>
/// The repeat-hit memo of <see cref="CpuTlb"/> is a speed-up only: the same random mix of kernel loads (in two PCIDs,
/// over 4K, 2M and 1G leaves), direct-map changes without a flush (stale entries stay, as in hardware), INVLPG, INVPCID
/// and full flushes must give the same outcome and frame for every load, and the same counts, with and without it.
/// </summary>
public class TlbMemoTests
{
    const ulong GiB = 1UL << 30, MiB = 1UL << 20;

    [Theory]
    [InlineData(1, "sapphire-rapids")]
    [InlineData(2, "zen4")]
    [InlineData(3, "skylake-sp")]
    public void memo_on_and_off_give_identical_translations_and_counts(int seed, string preset)
    {
        var cpu = CpuPreset.Find(preset)!;
        var dm = DirectMap.Build([new PhysRange(MiB, 3 * GiB)], new DirectMapOptions { Global = true });
        var on = new CpuTlb(cpu);
        var off = new CpuTlb(cpu) { RepeatHitMemo = false };
        var rng = new Random(seed);
        // A few hot pages (repeats are what the memo answers) and the odd cold one, some inside ranges that get split.
        var hot = new ulong[24];
        for (int i = 0; i < hot.Length; i++) hot[i] = (ulong)rng.NextInt64(256, (long)(3 * GiB >> 12));
        int walks = 0, hits = 0;
        ulong last = hot[0], before = hot[1];
        ulong Recent() => rng.Next(2) == 0 ? last : before;
        for (int step = 0; step < 60_000; step++)
        {
            int op = rng.Next(1000);
            if (op < 960)
            {
                // Half the loads repeat one of the last two pages (struct page, then the page itself, as the replay does).
                int kind = rng.Next(20);
                ulong pfn = kind < 10 ? Recent() : kind < 19 ? hot[rng.Next(hot.Length)] + (ulong)rng.Next(3) : (ulong)rng.NextInt64(256, (long)(3 * GiB >> 12));
                if (pfn != last) (before, last) = (last, pfn);
                ulong va = dm.VirtualAddress(pfn) + (ulong)rng.Next(4096);
                ushort pcid = (ushort)(1 + rng.Next(2));
                bool global = rng.Next(4) != 0;
                var a = on.Translate(pcid, va, dm.Tables, global, out ulong pa);
                var b = off.Translate(pcid, va, dm.Tables, global, out ulong pb);
                Assert.Equal(b, a);
                Assert.Equal(pb, pa);
                if (a == TlbOutcome.Walk) walks++;
                if (a == TlbOutcome.L1Hit) hits++;
            }
            else if (op < 975)
            {
                // set_memory_*: splits as needed, no flush here (the TLBs keep stale entries).
                ulong pfn = rng.Next(2) == 0 ? Recent() : (hot[rng.Next(hot.Length)] & ~511UL) + (ulong)rng.Next(512);
                dm.SetPresent(pfn, 1 + rng.Next(4), rng.Next(2) == 0);
            }
            else if (op < 985)
            {
                ulong va = dm.VirtualAddress(Recent());
                ushort pcid = (ushort)(1 + rng.Next(2));
                Assert.Equal(off.Invlpg(pcid, va), on.Invlpg(pcid, va));
            }
            else if (op < 992)
            {
                ulong va = dm.VirtualAddress(Recent());
                Assert.Equal(off.InvpcidAddress(1, va), on.InvpcidAddress(1, va));
            }
            else if (op < 996) Assert.Equal(off.FlushPcid(2), on.FlushPcid(2));
            else if (op < 998) Assert.Equal(off.FlushAllNonGlobal(), on.FlushAllNonGlobal());
            else Assert.Equal(off.FlushGlobal(), on.FlushGlobal());
        }
        AssertSameCounts(on, off);
        // The mix exercised every path: walks, L1 hits (the memo's case) and faults after unmapping.
        Assert.True(walks > 100, $"walks {walks}");
        Assert.True(hits > 10_000, $"L1 hits {hits}");
        Assert.True(on.Faults > 0, "no load hit an unmapped page");
        Assert.True(on.MemoHits > 2_000, $"memo hits {on.MemoHits}");
        Assert.Equal(0, off.MemoHits);
    }

    /// <summary>
    /// The large-page memo (one L1 hit on a 2M or 1G entry answering for every address of that page) on the replay's
    /// pattern: page-by-page runs through the direct map (zeroing, copies) inside 2M and 1G leaves, struct page loads
    /// in between, with 4K entries appearing in some 1 GiB regions (splits by set_memory changes, which also leave stale
    /// large entries), INVLPGs and flushes. Every load and count must match a TLB without memos.
    /// </summary>
    [Theory]
    [InlineData(4, "sapphire-rapids")]
    [InlineData(5, "zen4")]
    [InlineData(6, "skylake-sp")]
    public void the_large_page_memo_gives_identical_translations_and_counts(int seed, string preset)
    {
        var cpu = CpuPreset.Find(preset)!;
        var dm = DirectMap.Build([new PhysRange(MiB, 4 * GiB)], new DirectMapOptions { Global = true });
        var on = new CpuTlb(cpu);
        var off = new CpuTlb(cpu) { RepeatHitMemo = false };
        var rng = new Random(seed);
        ulong vmemmap = 0xffff_ea00_0000_0000UL;
        var tables = dm.Tables;
        for (int i = 0; i < 2 * 512 * 512; i += 512) tables.MapLeaf(vmemmap + (ulong)i * 4096, PageLevel.Pmd, (ulong)(5 * GiB >> 12) + (ulong)i, Pte.Present | Pte.Rw);
        ulong cursor = (ulong)rng.NextInt64(256, (long)(4 * GiB >> 12));
        void Load(ulong va, ushort pcid, bool global)
        {
            var a = on.Translate(pcid, va, tables, global, out ulong pa);
            var b = off.Translate(pcid, va, tables, global, out ulong pb);
            Assert.Equal(b, a);
            Assert.Equal(pb, pa);
        }
        for (int step = 0; step < 80_000; step++)
        {
            int op = rng.Next(1000);
            ushort pcid = (ushort)(1 + rng.Next(2));
            bool global = rng.Next(3) != 0;
            if (op < 970)
            {
                // A run: struct page, then the page itself, page after page; now and then a jump elsewhere.
                if (rng.Next(200) == 0) cursor = (ulong)rng.NextInt64(256, (long)(4 * GiB >> 12));
                cursor = Math.Min(cursor + 1, (4 * GiB >> 12) - 1);
                Load(vmemmap + cursor * 64 % (2UL * 512 * 512 * 4096), pcid, global);
                Load(dm.VirtualAddress(cursor) + (ulong)rng.Next(4096), pcid, global);
            }
            else if (op < 985)
            {
                // set_memory_* near the run or anywhere: splits (4K entries appear in that 1 GiB region), no flush.
                ulong pfn = rng.Next(2) == 0 ? cursor + (ulong)rng.Next(64) : (ulong)rng.NextInt64(256, (long)(4 * GiB >> 12));
                dm.SetPresent(Math.Min(pfn, (4 * GiB >> 12) - 8), 1 + rng.Next(4), rng.Next(3) != 0);
            }
            else if (op < 993) Assert.Equal(off.Invlpg(pcid, dm.VirtualAddress(cursor)), on.Invlpg(pcid, dm.VirtualAddress(cursor)));
            else if (op < 997) Assert.Equal(off.FlushPcid(2), on.FlushPcid(2));
            else if (op < 999) Assert.Equal(off.FlushAllNonGlobal(), on.FlushAllNonGlobal());
            else Assert.Equal(off.FlushGlobal(), on.FlushGlobal());
        }
        AssertSameCounts(on, off);
        // On Intel presets (separate L1 structures per page size) the large-page memo answered much of the run; AMD's
        // shared L1 never lets it (the hit entry's own region is never clear of smaller entries).
        if (!cpu.L1Shared) Assert.True(on.LargeMemoHits > 5_000, $"large-page memo hits {on.LargeMemoHits}");
        else Assert.Equal(0, on.LargeMemoHits);
        Assert.Equal(0, off.LargeMemoHits);
    }

    /// <summary>Walks, faults, walk reads, and every structure's hits, misses and occupancy agree.</summary>
    static void AssertSameCounts(CpuTlb on, CpuTlb off)
    {
        Assert.Equal(off.Walks, on.Walks);
        Assert.Equal(off.Faults, on.Faults);
        Assert.Equal(off.WalkReads, on.WalkReads);
        for (int i = 0; i < on.Structures.Length; i++)
        {
            Assert.Equal(off.Structures[i].Hits, on.Structures[i].Hits);
            Assert.Equal(off.Structures[i].Misses, on.Structures[i].Misses);
            Assert.Equal(off.Structures[i].Count, on.Structures[i].Count);
        }
    }
}
