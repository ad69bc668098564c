namespace AsiTrace.Model.Paging;

/// <summary>One 4 KiB page-table page: 512 entries; a non-leaf entry's table is in <see cref="Children"/>.</summary>
public sealed class PageTablePage(int level)
{
    public readonly int Level = level;
    public readonly ulong[] Entries = new ulong[512];
    public PageTablePage?[]? Children;
}

/// <summary>What a walk found: the leaf entry covering an address and its level, or nothing.</summary>
public readonly record struct Walk(bool Mapped, int Level, ulong Entry)
{
    public Pte Flags => (Pte)(Entry & Prot.FlagMask);
    public bool Present => (Entry & (ulong)Pte.Present) != 0;
    /// <summary>Physical frame number of the 4 KiB page at the walked address.</summary>
    public ulong Pfn(ulong va) => ((Entry & Prot.AddressMask) >> 12) + ((va >> 12) & (ulong)(PageLevel.Pages(Level) - 1));
}

/// <summary>
/// A radix page table of 4 or 5 levels (docs/model.md §3.1): every table one 512-entry page, leaves at the PTE
/// (4 KiB), PMD (2 MiB, PSE) or PUD (1 GiB, PSE) level. Counts table pages per level as they are allocated and freed.
/// Only what the model needs is kept: entries carry real bits and frame addresses; tables are objects, not frames.
/// </summary>
public sealed class PageTables
{
    public int Levels { get; }
    public PageTablePage Root { get; }
    /// <summary>Table pages in use per level (index = level of the table: 1 = PTE tables, 2 = PMD tables, …).</summary>
    public long[] TablePages { get; } = new long[PageLevel.LevelSlots];
    public long TablePagesAllocated { get; private set; }
    public long TablePagesFreed { get; private set; }

    public PageTables(int levels = 4)
    {
        if (levels is not (4 or 5)) throw new ArgumentOutOfRangeException(nameof(levels), "4 or 5 levels");
        Levels = levels;
        Root = new PageTablePage(levels);
        TablePages[levels] = 1;
    }

    public static int Index(ulong va, int level) => (int)((va >> PageLevel.Shift(level)) & 511);

    /// <summary>Hardware-style walk: one entry per level until a leaf or a non-present entry.</summary>
    public Walk Lookup(ulong va)
    {
        var t = Root;
        for (int level = Levels; level >= 1; level--)
        {
            int i = Index(va, level);
            ulong e = t.Entries[i];
            if (level == 1 || (e & (ulong)Pte.Pse) != 0) return e == 0 ? default : new Walk(true, level, e);
            var child = t.Children?[i];
            if (child is null) return default;
            t = child;
        }
        return default;
    }

    /// <summary>
    /// As <see cref="Lookup"/>, but returns the table holding the leaf entry and the entry's index in it (null when
    /// <see cref="Lookup"/> would report nothing mapped), so a caller can rewrite the entry, and its neighbours in the
    /// same table, without walking again.
    /// </summary>
    public PageTablePage? LeafTable(ulong va, out int level, out int index)
    {
        var t = Root;
        for (int l = Levels; l >= 1; l--)
        {
            int i = Index(va, l);
            ulong e = t.Entries[i];
            if (l == 1 || (e & (ulong)Pte.Pse) != 0)
            {
                level = l; index = i;
                return e == 0 ? null : t;
            }
            var child = t.Children?[i];
            if (child is null) break;
            t = child;
        }
        level = 0; index = -1;
        return null;
    }

    /// <summary>Installs a leaf at <paramref name="level"/> for <paramref name="va"/>, creating tables on the way
    /// (as <c>kernel_physical_mapping_init</c> does top-down).</summary>
    public void MapLeaf(ulong va, int level, ulong pfn, Pte flags)
    {
        var t = TableFor(va, level, create: true)!;
        int i = Index(va, level);
        if (t.Children?[i] is not null) throw new InvalidOperationException($"a table is installed where a {PageLevel.Name(level)} leaf was to go");
        ulong bits = (ulong)flags & ~(ulong)Pte.Pse;
        if (level > 1) bits |= (ulong)Pte.Pse;
        t.Entries[i] = (pfn << 12 & Prot.AddressMask) | bits;
    }

    /// <summary>The table that holds the entry for <paramref name="va"/> at <paramref name="level"/>.</summary>
    public PageTablePage? TableFor(ulong va, int level, bool create = false)
    {
        var t = Root;
        for (int l = Levels; l > level; l--)
        {
            int i = Index(va, l);
            var child = t.Children?[i];
            if (child is null)
            {
                if (!create) return null;
                t.Children ??= new PageTablePage?[512];
                if ((t.Entries[i] & (ulong)Pte.Pse) != 0) throw new InvalidOperationException($"a {PageLevel.Name(l)} leaf covers the address");
                child = new PageTablePage(l - 1);
                t.Children[i] = child;
                t.Entries[i] = (ulong)Prot.KernelTable;
                TablePages[l - 1]++;
                TablePagesAllocated++;
            }
            t = child;
        }
        return t;
    }

    /// <summary>
    /// Replaces the large leaf covering <paramref name="va"/> at <paramref name="level"/> by a table of 512 entries of
    /// the next level reproducing the same mapping (<c>__split_large_page</c>): 2M → 512 × 4K PTEs, 1G → 512 × 2M leaves.
    /// </summary>
    public void SplitLeaf(ulong va, int level)
    {
        if (level is not (2 or 3)) throw new ArgumentOutOfRangeException(nameof(level));
        var t = TableFor(va, level) ?? throw new InvalidOperationException("no table");
        int i = Index(va, level);
        ulong e = t.Entries[i];
        if ((e & (ulong)Pte.Pse) == 0) throw new InvalidOperationException("not a large leaf");
        ulong basePfn = (e & Prot.AddressMask) >> 12;
        ulong flags = e & Prot.FlagMask & ~(ulong)Pte.Pse;
        var child = new PageTablePage(level - 1);
        long step = PageLevel.Pages(level - 1);
        for (int k = 0; k < 512; k++)
        {
            ulong bits = flags | (level - 1 > 1 ? (ulong)Pte.Pse : 0);
            child.Entries[k] = ((basePfn + (ulong)(k * step)) << 12 & Prot.AddressMask) | bits;
        }
        t.Children ??= new PageTablePage?[512];
        t.Children[i] = child;
        t.Entries[i] = (ulong)Prot.KernelTable;
        TablePages[level - 1]++;
        TablePagesAllocated++;
    }

    /// <summary>Accounts for a table page freed by a collapse.</summary>
    public void ReleaseTable(int level)
    {
        TablePages[level]--;
        TablePagesFreed++;
    }

    /// <summary>Rewrites the flags of the leaf covering <paramref name="va"/> (same frame), returning the old entry.</summary>
    public ulong SetLeafFlags(ulong va, int level, ulong newFlags)
    {
        var t = TableFor(va, level) ?? throw new InvalidOperationException("no table");
        int i = Index(va, level);
        ulong old = t.Entries[i];
        ulong pse = level > 1 ? (ulong)Pte.Pse : 0;
        t.Entries[i] = (old & Prot.AddressMask) | (newFlags & Prot.FlagMask & ~(ulong)Pte.Pse) | pse;
        return old;
    }
}
