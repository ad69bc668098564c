namespace AsiTrace.Model.Paging;

/// <summary>x86-64 page-table entry bits (arch/x86/include/asm/pgtable_types.h; docs/model.md §3.2).</summary>
[Flags]
public enum Pte : ulong
{
    None = 0,
    Present = 1UL << 0,
    Rw = 1UL << 1,
    User = 1UL << 2,
    Pwt = 1UL << 3,
    Pcd = 1UL << 4,
    Accessed = 1UL << 5,
    Dirty = 1UL << 6,
    /// <summary>In a PMD/PUD entry: this entry is a 2 MiB / 1 GiB leaf (in a 4 KiB PTE the same bit is PAT).</summary>
    Pse = 1UL << 7,
    Global = 1UL << 8,
    Nx = 1UL << 63,
}

/// <summary>The kernel's composite protections and the address field of an entry.</summary>
public static class Prot
{
    /// <summary><c>_KERNPG_TABLE</c>: what a non-leaf kernel entry carries.</summary>
    public const Pte KernelTable = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty;
    /// <summary><c>PAGE_KERNEL</c> (with G; <c>__default_kernel_pte_mask</c> drops G under PTI or ASI).</summary>
    public const Pte Kernel = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty | Pte.Global | Pte.Nx;
    /// <summary>Bits 12..51: the physical address of the frame or table.</summary>
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000UL;
    /// <summary>Flag bits of an entry (everything but the address).</summary>
    public const ulong FlagMask = ~AddressMask;
}

/// <summary>Page-table levels as the kernel numbers them (<c>enum pg_level</c>: PG_LEVEL_4K = 1, 2M = 2, 1G = 3).</summary>
public static class PageLevel
{
    public const int Pte = 1, Pmd = 2, Pud = 3, P4d = 4, Pgd5 = 5;
    /// <summary>Size of an array indexed by the leaf levels (4K, 2M, 1G); index 0 unused.</summary>
    public const int LeafSlots = Pud + 1;
    /// <summary>Size of an array indexed by every level; index 0 unused.</summary>
    public const int LevelSlots = Pgd5 + 1;
    /// <summary>log2 of the bytes one entry at <paramref name="level"/> maps.</summary>
    public static int Shift(int level) => 12 + 9 * (level - 1);
    /// <summary>4 KiB pages one leaf at <paramref name="level"/> maps: 1, 512, 262144.</summary>
    public static long Pages(int level) => 1L << (9 * (level - 1));
    public static string Name(int level) => level switch { 1 => "4K", 2 => "2M", 3 => "1G", _ => $"L{level}" };
}
