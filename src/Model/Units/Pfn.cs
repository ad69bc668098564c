using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Units;

/// <summary>
/// A page frame number: physical address >> PAGE_SHIFT (<c>page_to_pfn()</c>). Its own type so that a pfn is never
/// passed where a virtual address, a page count or a freetype is expected.
/// </summary>
public readonly record struct Pfn(long Value) : IComparable<Pfn>
{
    public const int PageShift = 12;

    /// <summary>The pfn <paramref name="pages"/> frames further on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Pfn Plus(long pages) => new(Value + pages);

    public int CompareTo(Pfn other) => Value.CompareTo(other.Value);
    public override string ToString() => $"pfn 0x{Value:x}";
}

/// <summary>A kernel virtual address (direct map, vmemmap, mermap window).</summary>
public readonly record struct VirtAddr(ulong Value)
{
    /// <summary>The address <paramref name="pages"/> 4 KiB pages further on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VirtAddr PlusPages(long pages) => new(Value + ((ulong)pages << Pfn.PageShift));

    public override string ToString() => $"0x{Value:x16}";
}
