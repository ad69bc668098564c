using AsiTrace.Model.Units;

namespace AsiTrace.Model.Paging;

/// <summary>How the direct map is built (<c>probe_page_size_mask</c>; docs/model.md §3.4).</summary>
public sealed record DirectMapOptions
{
    /// <summary>2 MiB leaves (CPU PSE and no debug_pagealloc).</summary>
    public bool Pse { get; init; } = true;
    /// <summary>1 GiB leaves (CPU GBPAGES and <c>direct_gbpages</c>; boot option <c>nogbpages</c> turns it off).</summary>
    public bool GbPages { get; init; } = true;
    /// <summary>5-level paging (<c>la57</c>).</summary>
    public bool FiveLevel { get; init; }
    /// <summary>G bit on kernel mappings; off under PTI or ASI (<c>__default_kernel_pte_mask</c>).</summary>
    public bool Global { get; init; } = true;
    /// <summary>ASI's restricted direct map (Sep 2025 series): built with the same helper but 2 MiB at most and
    /// Present clear everywhere; pageblocks are made present as they become nonsensitive.</summary>
    public bool Restricted { get; init; }
    /// <summary>Not what the kernel does for the direct map (only <c>set_memory_rox</c> users collapse, v6.14+): collapse
    /// a 2M/1G region back to one leaf when a change makes it uniform again, to estimate what collapsing would save.</summary>
    public bool CollapseOnRestore { get; init; }
}

/// <summary>A physical range [Start, End) in bytes, as <c>/proc/iomem</c> lists "System RAM".</summary>
public readonly record struct PhysRange(ulong Start, ulong End);

/// <summary>What one CPA call did (<c>__change_page_attr_set_clr</c>), for the cost model.</summary>
public record struct CpaResult
{
    public long PagesChanged, SameProtPages, Unmapped;
    public int Splits2M, Splits1G, PreservedLarge;
    /// <summary>Page-table pages allocated by splits (one per split, <c>alloc_pages(GFP_KERNEL)</c>).</summary>
    public int TablePages;
    /// <summary><c>flush_tlb_all()</c> calls made by splits (one per split, before the attribute change).</summary>
    public int SplitFlushes;
    /// <summary>Tables collapsed back into a leaf (only with <see cref="DirectMapOptions.CollapseOnRestore"/>).</summary>
    public int CollapsedTables;
    /// <summary>Some entry changed: a <c>set_memory_*</c> caller would now run <c>cpa_flush()</c>.</summary>
    public bool FlushNeeded;
}

/// <summary>
/// The kernel direct map: every page of RAM at <c>page_offset_base + pfn × 4096</c>, built the way
/// <c>init_mem_mapping()</c> does and changed the way CPA does (arch/x86/mm/pat/set_memory.c). Keeps
/// <c>direct_pages_count[]</c> (what <c>/proc/meminfo</c> shows as DirectMap4k/2M/1G) and the split counters of
/// <c>/proc/vmstat</c>. Large leaves are split only where a change needs it and never collapsed (collapse happens only
/// for <c>set_memory_rox</c> users, not the direct map).
/// </summary>
public sealed class DirectMap
{
    public const ulong PageOffset4 = 0xffff_8880_0000_0000UL, PageOffset5 = 0xff11_0000_0000_0000UL;
    const ulong IsaEnd = 1UL << 20;
    public PageTables Tables { get; }
    public DirectMapOptions Options { get; }
    public ulong PageOffset { get; }
    /// <summary><c>direct_pages_count[]</c>: leaves per level (1 = 4K, 2 = 2M, 3 = 1G).</summary>
    public long[] Pages { get; } = new long[PageLevel.LeafSlots];
    /// <summary><c>direct_map_level2_splits</c> (2M → 4K) and <c>direct_map_level3_splits</c> (1G → 2M).</summary>
    public long Level2Splits { get; private set; }
    public long Level3Splits { get; private set; }
    /// <summary><c>direct_map_level2_collapses</c> / <c>direct_map_level3_collapses</c> (only with <see cref="DirectMapOptions.CollapseOnRestore"/>).</summary>
    public long Level2Collapses { get; private set; }
    public long Level3Collapses { get; private set; }
    public long FlushAllCalls { get; private set; }

    DirectMap(DirectMapOptions options)
    {
        Options = options;
        Tables = new PageTables(options.FiveLevel ? 5 : 4);
        PageOffset = options.FiveLevel ? PageOffset5 : PageOffset4;
    }

    public ulong VirtualAddress(ulong pfn) => PageOffset + (pfn << 12);

    /// <summary>Where the direct map maps <paramref name="pfn"/> (<c>__va(PFN_PHYS(pfn))</c>).</summary>
    public VirtAddr VirtualAddress(Pfn pfn) => new(PageOffset + ((ulong)pfn.Value << Pfn.PageShift));

    /// <summary><see cref="SetPresent(ulong, long, bool)"/> from a typed pfn.</summary>
    public CpaResult SetPresent(Pfn first, long count, bool present) => SetPresent((ulong)first.Value, count, present);

    /// <summary>DirectMap4k / 2M / 1G in kB, as /proc/meminfo prints them.</summary>
    public (long Kb4k, long Kb2M, long Kb1G) MeminfoKb => (Pages[1] * 4, Pages[2] * 2048, Pages[3] * 1048576);

    /// <summary>
    /// Builds the map of <paramref name="ram"/> (memblock memory: the System RAM ranges): the ISA range [0, 1 MiB) is
    /// always mapped with 4 KiB pages (<c>init_mem_mapping</c>), then RAM with the largest leaf whose aligned region is
    /// entirely RAM — <c>split_mem_range()</c> followed by <c>adjust_range_page_size_mask()</c>'s promotion of a
    /// boundary piece when the whole surrounding 2M/1G region is memory.
    /// </summary>
    public static DirectMap Build(IReadOnlyList<PhysRange> ram, DirectMapOptions? options = null)
    {
        var o = options ?? new DirectMapOptions();
        var map = new DirectMap(o);
        var pages = Normalize(ram);
        bool gb = o.GbPages && !o.Restricted && o.Pse;
        Pte flags = Prot.Kernel & ~(o.Global && !o.Restricted ? Pte.None : Pte.Global);
        if (o.Restricted) flags &= ~Pte.Present;
        // The ISA range, regardless of holes.
        for (ulong pfn = 0; pfn < IsaEnd >> 12; pfn++) map.Map(pfn, PageLevel.Pte, flags);
        foreach (var (start, end) in pages)
        {
            ulong pfn = Math.Max(start, IsaEnd >> 12);
            while (pfn < end)
            {
                int level = PageLevel.Pte;
                if (gb && IsRam(pages, pfn, PageLevel.Pud)) level = PageLevel.Pud;
                else if (o.Pse && IsRam(pages, pfn, PageLevel.Pmd)) level = PageLevel.Pmd;
                ulong size = (ulong)PageLevel.Pages(level);
                ulong aligned = pfn & ~(size - 1);
                if (map.Tables.Lookup(map.VirtualAddress(aligned)).Mapped) { pfn = aligned + size; continue; }
                map.Map(aligned, level, flags);
                pfn = aligned + size;
            }
        }
        return map;
    }

    /// <summary>RAM ranges in pages, rounded inwards (PFN_UP(start), PFN_DOWN(end)), sorted and merged.</summary>
    static List<(ulong Start, ulong End)> Normalize(IReadOnlyList<PhysRange> ram)
    {
        var list = new List<(ulong, ulong)>();
        foreach (var r in ram)
        {
            ulong s = (r.Start + 4095) >> 12, e = r.End >> 12;
            if (e > s) list.Add((s, e));
        }
        list.Sort();
        var merged = new List<(ulong Start, ulong End)>();
        foreach (var (s, e) in list)
        {
            if (merged.Count > 0 && s <= merged[^1].End) merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, e));
            else merged.Add((s, e));
        }
        return merged;
    }

    static bool IsRam(List<(ulong Start, ulong End)> ram, ulong pfn, int level)
    {
        ulong size = (ulong)PageLevel.Pages(level);
        ulong s = pfn & ~(size - 1), e = s + size;
        foreach (var (a, b) in ram) if (a <= s && e <= b) return true;
        return false;
    }

    void Map(ulong pfn, int level, Pte flags)
    {
        Tables.MapLeaf(VirtualAddress(pfn), level, pfn, flags);
        Pages[level]++;
    }

    /// <summary><c>set_direct_map_invalid_noflush</c> / <c>set_direct_map_default_noflush</c> for <paramref name="count"/>
    /// pages: clear (or set back) Present and RW (and Dirty on clear). No flush is requested by these helpers.</summary>
    public CpaResult SetPresent(ulong pfn, long count, bool present)
    {
        var r = present
            ? Change(pfn, count, Pte.Present | Pte.Rw | Pte.Dirty, Pte.None)
            : Change(pfn, count, Pte.None, Pte.Present | Pte.Rw | Pte.Dirty);
        r.FlushNeeded = false;
        if (present && Options.CollapseOnRestore) Collapse(pfn, count, ref r);
        return r;
    }

    /// <summary>
    /// The v6.14 collapse check (<c>collapse_large_pages</c>), applied here to the direct map only as an estimate: a PTE
    /// table whose 512 entries are present, contiguous from a 2M-aligned frame and identical in flags becomes a 2M leaf;
    /// a PMD table of 512 such 2M leaves becomes a 1G leaf when 1G pages are allowed. Each collapse frees a table page
    /// and costs a <c>flush_tlb_all()</c>.
    /// </summary>
    void Collapse(ulong pfn, long count, ref CpaResult r)
    {
        ulong first = pfn & ~511UL, last = (pfn + (ulong)Math.Max(count, 1) - 1) & ~511UL;
        for (ulong p = first; p <= last; p += 512)
        {
            if (TryCollapse(VirtualAddress(p), PageLevel.Pmd)) { Level2Collapses++; r.CollapsedTables++; FlushAllCalls++; }
            if (Options.GbPages && !Options.Restricted && TryCollapse(VirtualAddress(p & ~((1UL << 18) - 1)), PageLevel.Pud)) { Level3Collapses++; r.CollapsedTables++; FlushAllCalls++; }
        }
    }

    bool TryCollapse(ulong va, int level)
    {
        var parent = Tables.TableFor(va, level);
        int i = PageTables.Index(va, level);
        var table = parent?.Children?[i];
        if (parent is null || table is null) return false;
        ulong e0 = table.Entries[0];
        if ((e0 & (ulong)Pte.Present) == 0) return false;
        if (level - 1 > 1 && (e0 & (ulong)Pte.Pse) == 0) return false;
        if (table.Children is not null) foreach (var c in table.Children) if (c is not null) return false;
        ulong basePfn = (e0 & Prot.AddressMask) >> 12;
        ulong step = (ulong)PageLevel.Pages(level - 1);
        if (basePfn % (ulong)PageLevel.Pages(level) != 0) return false;
        ulong flags = e0 & Prot.FlagMask;
        for (int k = 1; k < 512; k++)
        {
            ulong e = table.Entries[k];
            if ((e & Prot.FlagMask) != flags || ((e & Prot.AddressMask) >> 12) != basePfn + (ulong)k * step) return false;
        }
        parent.Children![i] = null;
        parent.Entries[i] = (basePfn << 12 & Prot.AddressMask) | (flags & ~(ulong)Pte.Pse) | (ulong)Pte.Pse;
        Tables.ReleaseTable(level - 1);
        Pages[level - 1] -= 512;
        Pages[level]++;
        return true;
    }

    /// <summary>
    /// The per-address CPA loop (<c>__change_page_attr_set_clr</c> → <c>__change_page_attr</c>): a 4 KiB leaf is rewritten
    /// if its value changes; a large leaf is left alone when the new protection equals the old ("sameprot"), rewritten
    /// in place when the request covers it whole ("preserved"), else split (<c>should_split_large_page</c>,
    /// <c>__split_large_page</c>: one table page, one <c>flush_tlb_all()</c>) and the address retried.
    /// </summary>
    public CpaResult Change(ulong pfn, long count, Pte set, Pte clear)
    {
        var r = new CpaResult();
        ulong end = pfn + (ulong)count;
        while (pfn < end)
        {
            ulong va = VirtualAddress(pfn);
            var table = Tables.LeafTable(va, out int level, out int index);
            if (table is null) { r.Unmapped++; pfn++; continue; }
            if (level == PageLevel.Pte)
            {
                // 4 KiB leaves: this PTE table's entries for the following pages too, without walking again.
                var entries = table.Entries;
                do
                {
                    ulong e = entries[index];
                    if (e == 0) r.Unmapped++;
                    else
                    {
                        ulong old = e & Prot.FlagMask & ~(ulong)Pte.Pse;
                        ulong updated = (old | (ulong)set) & ~(ulong)clear;
                        if (updated != old)
                        {
                            entries[index] = (e & Prot.AddressMask) | (updated & Prot.FlagMask & ~(ulong)Pte.Pse);
                            r.PagesChanged++; r.FlushNeeded = true;
                        }
                    }
                    pfn++; index++;
                } while (pfn < end && index < 512);
                continue;
            }
            // A large leaf: left alone, rewritten whole, or split.
            ulong oldFlags = table.Entries[index] & Prot.FlagMask & ~(ulong)Pte.Pse;
            ulong newFlags = (oldFlags | (ulong)set) & ~(ulong)clear;
            ulong size = (ulong)PageLevel.Pages(level);
            ulong basePfn = pfn & ~(size - 1);
            ulong inLeaf = Math.Min(end, basePfn + size) - pfn;
            if (newFlags == oldFlags) { r.SameProtPages += (long)inLeaf; pfn += inLeaf; continue; }
            if (pfn == basePfn && end - pfn >= size)
            {
                Tables.SetLeafFlags(va, level, newFlags);
                r.PreservedLarge++; r.PagesChanged += (long)size; r.FlushNeeded = true;
                pfn += size;
                continue;
            }
            Split(va, level, ref r);
        }
        return r;
    }

    void Split(ulong va, int level, ref CpaResult r)
    {
        Tables.SplitLeaf(va, level);
        Pages[level]--;
        Pages[level - 1] += 512;
        if (level == PageLevel.Pmd) { Level2Splits++; r.Splits2M++; }
        else { Level3Splits++; r.Splits1G++; }
        r.TablePages++;
        r.SplitFlushes++;
        FlushAllCalls++;
    }

    /// <summary>
    /// Makes the starting state match a machine's <c>/proc/meminfo</c> DirectMap lines: the kernel splits parts of the
    /// map before the trace starts (kernel text/rodata aliases made RO/NX, non-WB BIOS/ACPI ranges, <c>set_memory_*</c>
    /// users), which the boot rules alone do not reproduce. Splits 1G leaves (lowest addresses first, where the kernel
    /// image lives) until the 1G count matches, then 2M leaves until the 4K count matches. Counted as boot-time
    /// splits, not in <see cref="Level2Splits"/>/<see cref="Level3Splits"/> (vmstat counts only after boot).
    /// </summary>
    public ResidualReport ApplyResiduals(long kb4k, long kb2M, long kb1G)
    {
        long want1G = kb1G / 1048576, want4k = kb4k / 4;
        int splits1G = 0, splits2M = 0;
        var scratch = new CpaResult();
        long l2 = Level2Splits, l3 = Level3Splits, fl = FlushAllCalls;
        foreach (var (va, level) in Leaves(PageLevel.Pud))
        {
            if (Pages[3] <= want1G) break;
            Split(va, level, ref scratch); splits1G++;
        }
        foreach (var (va, level) in Leaves(PageLevel.Pmd))
        {
            if (Pages[1] + 512 > want4k) break;
            Split(va, level, ref scratch); splits2M++;
        }
        Level2Splits = l2; Level3Splits = l3; FlushAllCalls = fl;
        var (g4, g2, g1) = MeminfoKb;
        return new ResidualReport(splits1G, splits2M, g4 - kb4k, g2 - kb2M, g1 - kb1G);
    }

    /// <summary>
    /// Consistency of the structure with its counters: leaves per level equal <see cref="Pages"/>, table pages in use
    /// equal what the tree holds, every leaf maps the frame of its own address. Returns the problems found (none: valid).
    /// </summary>
    public List<string> Validate()
    {
        var problems = new List<string>();
        var leaves = new long[PageLevel.LeafSlots];
        var tables = new long[PageLevel.LevelSlots];
        Check(Tables.Root, Tables.Levels, 0, leaves, tables, problems);
        for (int l = 1; l <= 3; l++) if (leaves[l] != Pages[l]) problems.Add($"{PageLevel.Name(l)} leaves: {leaves[l]} in the tree, {Pages[l]} counted");
        for (int l = 1; l < Tables.Levels; l++) if (tables[l] != Tables.TablePages[l]) problems.Add($"level-{l} tables: {tables[l]} in the tree, {Tables.TablePages[l]} counted");
        return problems;
    }

    void Check(PageTablePage t, int level, ulong vaBase, long[] leaves, long[] tables, List<string> problems)
    {
        for (int i = 0; i < 512; i++)
        {
            ulong e = t.Entries[i];
            ulong va = vaBase | ((ulong)i << PageLevel.Shift(level));
            if (level == Tables.Levels && i >= 256) va |= Tables.Levels == 4 ? 0xFFFF_0000_0000_0000UL : 0xFE00_0000_0000_0000UL;
            var child = t.Children?[i];
            if (child is not null)
            {
                if ((e & (ulong)Pte.Pse) != 0) problems.Add($"va 0x{va:x}: entry is a leaf but has a table");
                tables[level - 1]++;
                Check(child, level - 1, va, leaves, tables, problems);
                continue;
            }
            if (e == 0) continue;
            if (level > 3) { problems.Add($"va 0x{va:x}: leaf at level {level}"); continue; }
            if (level > 1 && (e & (ulong)Pte.Pse) == 0) { problems.Add($"va 0x{va:x}: table entry without a table"); continue; }
            leaves[level]++;
            ulong pfn = (e & Prot.AddressMask) >> 12;
            if (pfn != (va - PageOffset) >> 12) problems.Add($"va 0x{va:x}: maps pfn 0x{pfn:x}, not its own");
        }
    }

    /// <summary>All leaves of one level in address order (a snapshot: safe to split while iterating).</summary>
    public List<(ulong Va, int Level)> Leaves(int level)
    {
        var list = new List<(ulong, int)>();
        Collect(Tables.Root, Tables.Levels, 0, level, list);
        return list;
    }

    void Collect(PageTablePage t, int tableLevel, ulong vaBase, int want, List<(ulong, int)> list)
    {
        for (int i = 0; i < 512; i++)
        {
            ulong e = t.Entries[i];
            if (e == 0) continue;
            ulong va = vaBase | ((ulong)i << PageLevel.Shift(tableLevel));
            // Upper half of the top-level table: canonical addresses copy the top index bit upwards.
            if (tableLevel == Tables.Levels && i >= 256) va |= Tables.Levels == 4 ? 0xFFFF_0000_0000_0000UL : 0xFE00_0000_0000_0000UL;
            bool leaf = tableLevel == 1 || (e & (ulong)Pte.Pse) != 0;
            if (leaf) { if (tableLevel == want) list.Add((va, tableLevel)); }
            else if (t.Children?[i] is { } child && tableLevel > want) Collect(child, tableLevel - 1, va, want, list);
        }
    }
}

/// <summary>What <see cref="DirectMap.ApplyResiduals"/> did, and what still differs (kB, built minus target).</summary>
public readonly record struct ResidualReport(int Splits1G, int Splits2M, long Diff4kKb, long Diff2MKb, long Diff1GKb)
{
    public bool Matches => Diff4kKb == 0 && Diff2MKb == 0 && Diff1GKb == 0;
}
