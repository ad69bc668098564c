using System.Runtime.CompilerServices;

namespace AsiTrace.Replay.Requests;

/// <summary>
/// A set of page frames, one bit each, in 64-bit words kept in pages of 4 Ki words (256 Ki frames, 1 GiB of memory)
/// allocated when first set: memory only where the trace touches, one indexed load per query. Clearing never allocates.
/// </summary>
public sealed class SparsePfnBits : Model.Alloc.IPfnSet
{
    const int WordShift = 12, WordsPerPage = 1 << WordShift, WordMask = WordsPerPage - 1;
    ulong[]?[] _pages = new ulong[]?[64];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(long pfn)
    {
        if (pfn < 0) return false;
        long w = pfn >> 6, p = w >> WordShift;
        if ((ulong)p >= (ulong)_pages.Length) return false;
        var page = _pages[p];
        return page is not null && (page[w & WordMask] & (1UL << (int)(pfn & 63))) != 0;
    }

    ulong Word(long w)
    {
        long p = w >> WordShift;
        if ((ulong)p >= (ulong)_pages.Length) return 0;
        var page = _pages[p];
        return page is null ? 0 : page[w & WordMask];
    }

    // The common case (the word's page exists) inline at every write; allocating pages out of line.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref ulong WordForWrite(long w)
    {
        long p = w >> WordShift;
        if ((ulong)p < (ulong)_pages.Length && _pages[p] is { } page) return ref page[w & WordMask];
        return ref WordForWriteGrow(w);
    }

    ref ulong WordForWriteGrow(long w)
    {
        long p = w >> WordShift;
        if (p >= _pages.Length)
        {
            if (p > int.MaxValue / 2) throw new ArgumentOutOfRangeException(nameof(w), "pfn beyond any plausible machine");
            Array.Resize(ref _pages, (int)Math.Max(p + 1, _pages.Length * 2L));
        }
        var page = _pages[p] ??= new ulong[WordsPerPage];
        return ref page[w & WordMask];
    }

    /// <summary>Sets or clears <paramref name="mask"/>'s bits of word <paramref name="w"/>; clearing never allocates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetBits(long w, ulong mask, bool value)
    {
        if (value) { WordForWrite(w) |= mask; return; }
        long pg = w >> WordShift;
        if ((ulong)pg < (ulong)_pages.Length && _pages[pg] is { } page) page[w & WordMask] &= ~mask;
    }

    static ulong Mask(int lo, int hi) => hi - lo == 64 ? ulong.MaxValue : ((1UL << (hi - lo)) - 1) << lo;

    /// <summary>Adds <paramref name="pfn"/>; returns whether it was already in the set.</summary>
    public bool TestAndSet(long pfn)
    {
        if (pfn < 0 || pfn >= MachineLimits.MaxPfn) return false;
        ref ulong word = ref WordForWrite(pfn >> 6);
        ulong bit = 1UL << (int)(pfn & 63);
        bool was = (word & bit) != 0;
        word |= bit;
        return was;
    }

    /// <summary>Is any frame of [pfn, pfn + count) in the set?</summary>
    public bool AnyInRange(long pfn, long count)
    {
        if (pfn >= 0 && (pfn & 63) + count <= 64) return count > 0 && (Word(pfn >> 6) & Mask((int)(pfn & 63), (int)((pfn & 63) + count))) != 0;
        // Frames past MachineLimits.MaxPfn exist on no x86-64 machine: nothing to keep for them.
        for (long p = Math.Max(pfn, 0), end = Math.Min(pfn + count, MachineLimits.MaxPfn); p < end;)
        {
            int lo = (int)(p & 63), hi = (int)Math.Min(64, lo + (end - p));
            if ((Word(p >> 6) & Mask(lo, hi)) != 0) return true;
            p += hi - lo;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetRange(long pfn, long count, bool value)
    {
        // One page (an order-0 allocation or free: most calls): one word, inline at the call.
        if (count == 1 && (ulong)pfn < (ulong)MachineLimits.MaxPfn) SetBits(pfn >> 6, 1UL << (int)(pfn & 63), value);
        else SetRuns(pfn, count, value);
    }

    void SetRuns(long pfn, long count, bool value)
    {
        // Frames past MachineLimits.MaxPfn exist on no x86-64 machine: nothing to keep for them.
        for (long p = Math.Max(pfn, 0), end = Math.Min(pfn + count, MachineLimits.MaxPfn); p < end;)
        {
            int lo = (int)(p & 63), hi = (int)Math.Min(64, lo + (end - p));
            SetBits(p >> 6, Mask(lo, hi), value);
            p += hi - lo;
        }
    }
}

/// <summary>
/// A value per page frame, stored in 64 Ki-frame pages allocated when first written: array speed for the live
/// allocation tables the replay consults on every event, memory only where the trace touches (0 means "none").
/// </summary>
public sealed class SparsePfnMap<T> where T : struct
{
    const int Shift = 16, PageSize = 1 << Shift, Mask = PageSize - 1;
    T[]?[] _pages = new T[]?[64];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Get(long pfn)
    {
        long p = pfn >> Shift;
        if ((ulong)p >= (ulong)_pages.Length) return default;
        var page = _pages[p];
        return page is null ? default : page[pfn & Mask];
    }

    // The common case (the frame's page exists) inline; allocating pages out of line.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(long pfn, T value)
    {
        long p = pfn >> Shift;
        if (pfn >= 0 && (ulong)p < (ulong)_pages.Length && _pages[p] is { } existing) existing[pfn & Mask] = value;
        else SetGrow(pfn, value);
    }

    void SetGrow(long pfn, T value)
    {
        // Past MachineLimits.MaxPfn lies no x86-64 page frame: such a pfn (a corrupt event) has no entry to keep.
        if (pfn < 0 || pfn >= MachineLimits.MaxPfn) return;
        long p = pfn >> Shift;
        if (p >= _pages.Length)
        {
            Array.Resize(ref _pages, (int)Math.Max(p + 1, _pages.Length * 2L));
        }
        var page = _pages[p];
        if (page is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default)) return;
            _pages[p] = page = new T[PageSize];
        }
        page[pfn & Mask] = value;
    }
}
