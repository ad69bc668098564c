using System.Runtime.CompilerServices;
using AsiTrace.Model.Paging;

namespace AsiTrace.Model.Tlb;

/// <summary>Where a translation came from.</summary>
public enum TlbOutcome : byte { L1Hit, L2Hit, Walk, Fault }

/// <summary>
/// The data TLBs of one CPU (<see cref="CpuPreset"/>): L1 structures per page size (Intel) or one shared L1 (AMD), then
/// the L2/STLB; a miss walks the page tables and fills both levels. Entries are tagged with the PCID they were loaded
/// in; a global entry (G bit with CR4.PGE) matches every PCID.
/// </summary>
public sealed class CpuTlb
{
    readonly CpuPreset _p;
    readonly SetAssociativeTlb _l1_4k, _l1_2m, _l1_1g, _l2, _l2_1g;
    public long Walks { get; private set; }
    public long Faults { get; private set; }
    /// <summary>Walks by the level of the leaf they ended at (index 1 = 4K, 2 = 2M, 3 = 1G): a walk reads one entry
    /// per level down to the leaf, so a miss on a 4K page costs (levels − 0) reads, on a 2M page one fewer, on 1G two
    /// fewer (docs/model.md §5.2), before any paging-structure-cache savings.</summary>
    public long[] WalksByLeafLevel { get; } = new long[PageLevel.LeafSlots];
    /// <summary>Page-table entries read by walks (the memory references of §5.2's walk model).</summary>
    public long WalkReads { get; private set; }

    public CpuTlb(CpuPreset preset)
    {
        _p = preset;
        _l1_4k = preset.L1Shared ? new SetAssociativeTlb("L1 dTLB", preset.L1_4K, 1, 2, 3) : new SetAssociativeTlb("L1 dTLB 4K", preset.L1_4K, 1);
        _l1_2m = preset.L1Shared ? _l1_4k : new SetAssociativeTlb("L1 dTLB 2M", preset.L1_2M, 2);
        _l1_1g = preset.L1Shared ? _l1_4k : new SetAssociativeTlb("L1 dTLB 1G", preset.L1_1G, 3);
        _l2 = new SetAssociativeTlb("STLB/L2 4K+2M", preset.L2, 1, 2);
        _l2_1g = new SetAssociativeTlb("STLB 1G", preset.L2_1G, 3);
        _l1ByLevel = [_l1_4k, _l1_4k, _l1_2m, _l1_1g];
        var all = new List<SetAssociativeTlb> { _l1_4k };
        if (!preset.L1Shared) { all.Add(_l1_2m); all.Add(_l1_1g); }
        all.Add(_l2);
        if (preset.L2_1G.Entries > 0) all.Add(_l2_1g);
        Structures = [.. all];
    }

    /// <summary>Every distinct structure of this CPU (an array, so invalidation loops allocate nothing).</summary>
    public SetAssociativeTlb[] Structures { get; }

    readonly SetAssociativeTlb[] _l1ByLevel;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    SetAssociativeTlb L1(int level) => _l1ByLevel[level];

    /// <summary>L2 placement: 1 GiB pages go to the 1G STLB where there is one, else are held as the 2 MiB piece
    /// containing the address ("smashed", AMD).</summary>
    (SetAssociativeTlb Tlb, int Level) L2(int level) => level == 3 && _p.L2_1G.Entries == 0 ? (_l2, 2) : (level == 3 ? _l2_1g : _l2, level);

    // The last L1 hits, by PCID and 4 KiB page. While no entry of this CPU was inserted or invalidated since (same
    // epoch), probing again for the same page and PCID must end at the same entry — the probes before it missed and
    // nothing changed them — so the memo answers with that entry and does the hit's LRU update. Struct page accesses
    // of neighbouring pfns share a vmemmap page; this skips their probes without changing any outcome or count.
    struct Memo
    {
        public ulong Page;
        public ulong Pfn;
        public long Epoch;
        public int Level;   // the L1 structure: L1(Level) (no object reference: copying a memo needs no GC write barrier)
        public int Index;
        public ushort Pcid;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Answers(ulong page, ushort pcid, long epoch) => Epoch == epoch && Page == page && Pcid == pcid;
    }
    Memo _memo0, _memo1;
    long _epoch = 1;

    // The last two L1 hits on 2 MiB or 1 GiB entries, each answering for every address in its page: within the epoch
    // nothing was inserted or invalidated, and the smaller-page L1 structures held nothing in the page's 1 GiB region
    // when it was made (so still hold nothing there), so for any address of the page their probes miss and the probe
    // at the entry's size ends at the same entry. Zeroing and copying walk the direct map page by page inside such
    // pages; two slots, because struct page loads (vmemmap, 2 MiB; under ASI in another PCID) come between them.
    struct LargeMemo
    {
        public ulong Vpn;      // va >> Shift
        public ulong BasePfn;  // the entry's first 4 KiB frame
        public long Epoch;
        public int Shift;      // 21 or 30
        public int Level;
        public int Index;
        public ushort Pcid;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Answers(ulong va, ushort pcid, long epoch) => Epoch == epoch && Pcid == pcid && va >> Shift == Vpn;
    }
    LargeMemo _largeA, _largeB;
    bool _largeBIsRecent;

    /// <summary>L1 hits the large-page memo answered (a diagnostic; also counted in <see cref="MemoHits"/>).</summary>
    public long LargeMemoHits { get; private set; }

    /// <summary>Answer repeated L1 hits from the memo (default). Off: every lookup probes; the outcomes, pfns, LRU
    /// order and counts are the same either way (a test replays random sequences both ways).</summary>
    public bool RepeatHitMemo { get; init; } = true;
    /// <summary>L1 hits the memo answered (a diagnostic; already counted in the structures' hits).</summary>
    public long MemoHits { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Changed() => _epoch++;

    /// <summary>The hit a memo stands for (entry <paramref name="index"/> of the L1 structure of <paramref name="level"/>):
    /// the entry's LRU update and the structure's hit count, as a probe would do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    TlbOutcome MemoHit(int level, int index, ulong frame, out ulong pfn)
    {
        var t = L1(level);
        MemoHits++;
        t.Touch(index);
        t.CountHit();
        pfn = frame;
        return TlbOutcome.L1Hit;
    }

    /// <summary>Translates <paramref name="va"/> in <paramref name="pcid"/>; on a miss walks <paramref name="tables"/>.
    /// <paramref name="globalPages"/>: CR4.PGE, so G entries are installed as global.</summary>
    public TlbOutcome Translate(ushort pcid, ulong va, PageTables tables, bool globalPages, out ulong pfn)
    {
        ulong page = va >> 12;
        if (RepeatHitMemo)
        {
            if (_memo0.Answers(page, pcid, _epoch)) return MemoHit(_memo0.Level, _memo0.Index, _memo0.Pfn, out pfn);
            if (_memo1.Answers(page, pcid, _epoch))
            {
                (_memo0, _memo1) = (_memo1, _memo0);
                return MemoHit(_memo0.Level, _memo0.Index, _memo0.Pfn, out pfn);
            }
            bool inA = _largeA.Answers(va, pcid, _epoch);
            if (inA || _largeB.Answers(va, pcid, _epoch))
            {
                _largeBIsRecent = !inA;
                ref readonly var m = ref _largeBIsRecent ? ref _largeB : ref _largeA;
                LargeMemoHits++;
                return MemoHit(m.Level, m.Index, m.BasePfn + (page & ((1UL << (m.Shift - 12)) - 1)), out pfn);
            }
        }
        for (int level = 1; level <= 3; level++)
        {
            var t = L1(level);
            if (t.TryLookup(pcid, va, level, out pfn, out int index))
            {
                t.CountHit();
                _memo1 = _memo0;
                _memo0 = new Memo { Page = page, Pfn = pfn, Epoch = _epoch, Level = level, Index = index, Pcid = pcid };
                if (level > 1 && RepeatHitMemo && SmallerStructuresClear(level, va))
                {
                    int shift = 12 + 9 * (level - 1);
                    // The new one replaces the less recent of the two.
                    bool intoB = !_largeBIsRecent;
                    _largeBIsRecent = intoB;
                    ref var slot = ref intoB ? ref _largeB : ref _largeA;
                    slot = new LargeMemo
                    {
                        Vpn = va >> shift, BasePfn = pfn - (page & ((1UL << (shift - 12)) - 1)), Epoch = _epoch, Shift = shift,
                        Level = level, Index = index, Pcid = pcid,
                    };
                }
                return TlbOutcome.L1Hit;
            }
        }
        _l1_4k.CountMiss();
        Changed();
        for (int level = 1; level <= 3; level++)
        {
            var (t, l) = L2(level);
            if (t.TryLookup(pcid, va, l, out pfn))
            {
                t.CountHit();
                // Refill L1 with what L2 held (a smashed 1G page comes back as 2M).
                L1(l).Insert(pcid, va, l, pfn - ((va >> 12) & ((1UL << (9 * (l - 1))) - 1)), false);
                return TlbOutcome.L2Hit;
            }
        }
        _l2.CountMiss();
        Walks++;
        var w = tables.Lookup(va);
        if (!w.Mapped || !w.Present) { Faults++; pfn = 0; return TlbOutcome.Fault; }
        pfn = w.Pfn(va);
        WalksByLeafLevel[w.Level]++;
        WalkReads += tables.Levels - w.Level + 1;
        bool global = globalPages && (w.Flags & Pte.Global) != 0;
        ulong pagePfn = (w.Entry & Prot.AddressMask) >> 12;
        L1(w.Level).Insert(pcid, va, w.Level, pagePfn, global);
        var (l2, l2Level) = L2(w.Level);
        ulong l2Pfn = l2Level == w.Level ? pagePfn : pfn - ((va >> 12) & 511);
        l2.Insert(pcid, va, l2Level, l2Pfn, global);
        return TlbOutcome.Walk;
    }

    /// <summary>Do the L1 structures probed before <paramref name="level"/> certainly hold nothing in va's 1 GiB region?
    /// (Never when they are the same structure, as on AMD's shared L1: the hit entry itself is there.)</summary>
    bool SmallerStructuresClear(int level, ulong va)
    {
        for (int l = 1; l < level; l++)
            if (L1(l).MayHoldRegion(va)) return false;
        return true;
    }

    /// <summary>INVLPG of <paramref name="va"/> in the current PCID (globals included). Returns entries dropped.</summary>
    public int Invlpg(ushort pcid, ulong va)
    {
        Changed();
        int n = 0;
        foreach (var t in Structures) n += t.InvalidateAddress(pcid, va, includeGlobal: true);
        return n;
    }

    /// <summary>INVPCID type 0: one address in one PCID, not globals.</summary>
    public int InvpcidAddress(ushort pcid, ulong va)
    {
        Changed();
        int n = 0;
        foreach (var t in Structures) n += t.InvalidateAddress(pcid, va, includeGlobal: false);
        return n;
    }

    /// <summary>CR3 write with flush / INVPCID type 1: the non-global entries of one PCID.</summary>
    public int FlushPcid(ushort pcid)
    {
        Changed();
        int n = 0;
        foreach (var t in Structures) n += t.InvalidateAll(pcid, includeGlobal: false);
        return n;
    }

    /// <summary>INVPCID type 2 / CR4.PGE toggle: everything, all PCIDs, globals included.</summary>
    public int FlushGlobal()
    {
        Changed();
        int n = 0;
        foreach (var t in Structures) n += t.InvalidateAll(null, includeGlobal: true);
        return n;
    }

    /// <summary>INVPCID type 3: all non-global entries of every PCID.</summary>
    public int FlushAllNonGlobal()
    {
        Changed();
        int n = 0;
        foreach (var t in Structures) n += t.InvalidateAll(null, includeGlobal: false);
        return n;
    }
}
