using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AsiTrace.Model.Tlb;

/// <summary>
/// One set-associative TLB structure with LRU replacement. An entry translates one page of its size (level 1 = 4K,
/// 2 = 2M, 3 = 1G) in one PCID; a global entry matches in every PCID. Sizes can share a structure (AMD L1/L2, Intel
/// STLB 4K+2M): the set index comes from the page number at the entry's own size, so a lookup probes once per size.
/// </summary>
public sealed class SetAssociativeTlb
{
    struct Entry
    {
        public ulong Vpn;      // va >> shift of its size
        public ulong Pfn;      // first 4 KiB frame of the page
        public uint Lru;
        public ushort Pcid;
        public byte Level;     // 0 = invalid
        public bool Global;
    }

    readonly Entry[] _entries;
    // Per way, the entry's (vpn << 2 | level), 0 when invalid, in rows of _stride (ways rounded up to 4, padding 0):
    // a lookup compares a set's tags four at a time and reads an entry only on a tag match.
    readonly ulong[] _tags;
    readonly int _stride;
    readonly int _sets, _ways;
    readonly ulong _setMask; // _sets − 1 when _sets is a power of two (the usual geometry): no division per lookup
    uint _clock;
    public string Name { get; }
    public int Capacity => _entries.Length;
    public long Hits { get; private set; }
    public long Misses { get; private set; }

    readonly int _levels; // bit L set: may hold pages of level L (invalidation probes only those)

    public SetAssociativeTlb(string name, TlbGeometry g, params int[] levels)
    {
        Name = name;
        foreach (int l in levels.Length == 0 ? [1, 2, 3] : levels) _levels |= 1 << l;
        _ways = Math.Max(1, g.Ways);
        _sets = g.Entries == 0 ? 0 : Math.Max(1, g.Entries / _ways);
        _entries = new Entry[_sets * _ways];
        _stride = (_ways + 3) & ~3;
        _occupied = new int[_entries.Length];
        _slot = new int[_entries.Length];
        Array.Fill(_slot, -1);
        _tags = new ulong[Math.Max(_sets, 1) * _stride];
        _setMask = _sets > 0 && (_sets & (_sets - 1)) == 0 ? (ulong)_sets - 1 : 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Shift(int level) => 12 + 9 * (level - 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int SetOf(ulong vpn) => (int)(_setMask != 0 || _sets == 1 ? vpn & _setMask : vpn % (ulong)_sets);

    /// <summary>Finds a translation of <paramref name="va"/> at <paramref name="level"/>; returns the 4 KiB frame.</summary>
    public bool TryLookup(ushort pcid, ulong va, int level, out ulong pfn) => TryLookup(pcid, va, level, out pfn, out _);

    /// <summary>As <see cref="TryLookup(ushort, ulong, int, out ulong)"/>, also giving the entry's index for <see cref="Touch"/>.</summary>
    public bool TryLookup(ushort pcid, ulong va, int level, out ulong pfn, out int index)
    {
        pfn = 0;
        index = -1;
        // An empty structure (no entry of its size loaded since the last flush: often the 4 KiB L1 while the kernel
        // touches only 2 MiB and 1 GiB mappings) cannot hit; skipping its probe changes no outcome.
        if (_valid == 0) return false;
        ulong vpn = va >> Shift(level);
        int set = SetOf(vpn);
        ulong tag = Tag(vpn, level);
        int tb = set * _stride, b = set * _ways;
        if (Vector256.IsHardwareAccelerated)
        {
            var key = Vector256.Create(tag);
            ref ulong row = ref _tags[tb];
            for (int w = 0; w < _ways; w += 4)
            {
                uint mask = Vector256.Equals(Vector256.LoadUnsafe(ref row, (nuint)w), key).ExtractMostSignificantBits();
                // Ascending ways, as the plain loop: the first entry that also matches the PCID (or is global) wins.
                while (mask != 0)
                {
                    int i = b + w + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                    if (Hit(i, pcid, va, level, out pfn)) { index = i; return true; }
                }
            }
            return false;
        }
        for (int w = 0; w < _ways; w++)
            if (_tags[tb + w] == tag && Hit(b + w, pcid, va, level, out pfn)) { index = b + w; return true; }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Tag(ulong vpn, int level) => (vpn << 2) | (uint)level;

    bool Hit(int i, ushort pcid, ulong va, int level, out ulong pfn)
    {
        ref var e = ref _entries[i];
        if (!e.Global && e.Pcid != pcid) { pfn = 0; return false; }
        e.Lru = ++_clock;
        pfn = e.Pfn + ((va >> 12) & ((1UL << (9 * (level - 1))) - 1));
        return true;
    }

    int TagIndex(int i) => i / _ways * _stride + i % _ways;

    // Which 1 GiB regions of the address space hold an entry, hashed to 64 bits: set on insert, cleared only when the
    // structure empties, so a clear bit proves that no valid entry lies in that region (a set bit may be stale).
    ulong _regions;

    /// <summary>va's 1 GiB region as one of 64 bits (Fibonacci hashing: the direct map and the vmemmap start 512 GiB
    /// aligned, so the low bits of va >> 30 alone would put both at bit 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong RegionBit(ulong va) => 1UL << (int)(((va >> 30) * 0x9E3779B97F4A7C15UL) >> 58);

    /// <summary>May an entry of this structure cover an address in <paramref name="va"/>'s 1 GiB region? False is certain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MayHoldRegion(ulong va) => (_regions & RegionBit(va)) != 0;

    // The valid entries' indices, so that a full flush visits only them (a 2,048-entry STLB is mostly empty again
    // right after one): _occupied[0.._valid) holds indices, _slot[i] is i's position there (−1: invalid).
    int[] _occupied = [], _slot = [];
    int _valid;

    void Occupy(int i)
    {
        if (_slot[i] >= 0) return;
        _slot[i] = _valid;
        _occupied[_valid++] = i;
    }

    void Drop(int i)
    {
        _entries[i].Level = 0;
        _tags[TagIndex(i)] = 0;
        int at = _slot[i];
        if (at >= 0)
        {
            int last = _occupied[--_valid];
            _occupied[at] = last;
            _slot[last] = at;
            _slot[i] = -1;
            if (_valid == 0) _regions = 0;
        }
    }

    /// <summary>A repeated hit on entry <paramref name="index"/> (known unchanged since it was found): its LRU update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int index) => _entries[index].Lru = ++_clock;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CountHit() => Hits++;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CountMiss() => Misses++;

    /// <summary>Installs a translation, evicting the least recently used way of its set.</summary>
    public void Insert(ushort pcid, ulong va, int level, ulong pagePfn, bool global)
    {
        if (_sets == 0) return;
        ulong vpn = va >> Shift(level);
        int b = SetOf(vpn) * _ways;
        int victim = b;
        for (int w = 0; w < _ways; w++)
        {
            ref var e = ref _entries[b + w];
            if (e.Level == level && e.Vpn == vpn && (e.Global || e.Pcid == pcid)) { victim = b + w; break; }
            if (e.Level == 0) { victim = b + w; break; }
            if (e.Lru < _entries[victim].Lru) victim = b + w;
        }
        _entries[victim] = new Entry { Vpn = vpn, Pfn = pagePfn, Lru = ++_clock, Pcid = pcid, Level = (byte)level, Global = global };
        _tags[TagIndex(victim)] = Tag(vpn, level);
        _regions |= RegionBit(va);
        Occupy(victim);
    }

    /// <summary>INVLPG semantics: drops every entry (any size) of <paramref name="pcid"/> covering <paramref name="va"/>,
    /// globals included (<paramref name="includeGlobal"/> false: INVPCID type 0). Returns entries dropped.</summary>
    public int InvalidateAddress(ushort pcid, ulong va, bool includeGlobal = true)
    {
        int n = 0;
        if (_sets == 0) return 0;
        for (int level = 1; level <= 3; level++)
        {
            if ((_levels & (1 << level)) == 0) continue;
            ulong vpn = va >> Shift(level);
            int b = SetOf(vpn) * _ways;
            for (int w = 0; w < _ways; w++)
            {
                ref var e = ref _entries[b + w];
                if (e.Level == level && e.Vpn == vpn && (e.Global ? includeGlobal : e.Pcid == pcid)) { Drop(b + w); n++; }
            }
        }
        return n;
    }

    /// <summary>Drops the non-global entries of one PCID (CR3 write with flush, INVPCID type 1), or of every PCID
    /// (<paramref name="pcid"/> null: INVPCID type 3), and globals too when <paramref name="includeGlobal"/> (INVPCID type 2, CR4.PGE toggle).</summary>
    public int InvalidateAll(ushort? pcid, bool includeGlobal)
    {
        int n = 0;
        // Backwards over the valid entries: Drop moves the last one into the dropped one's place, already visited.
        for (int k = _valid - 1; k >= 0; k--)
        {
            int i = _occupied[k];
            ref var e = ref _entries[i];
            if (e.Global ? includeGlobal : (pcid is null || e.Pcid == pcid)) { Drop(i); n++; }
        }
        return n;
    }

    public int Count => _valid;
}
