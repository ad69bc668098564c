namespace AsiTrace.Replay.Requests;

/// <summary>A set of page frames, one bit each, kept as 64-bit words in a <see cref="SparsePfnMap{T}"/>.</summary>
public sealed class SparsePfnBits : Model.Alloc.IPfnSet
{
    readonly SparsePfnMap<ulong> _words = new();

    public bool Contains(long pfn) => pfn >= 0 && (_words.Get(pfn >> 6) & (1UL << (int)(pfn & 63))) != 0;

    /// <summary>Is any frame of [pfn, pfn + count) in the set?</summary>
    public bool AnyInRange(long pfn, long count)
    {
        for (long p = Math.Max(pfn, 0), end = pfn + count; p < end;)
        {
            int lo = (int)(p & 63), hi = (int)Math.Min(64, lo + (end - p));
            ulong mask = hi - lo == 64 ? ulong.MaxValue : ((1UL << (hi - lo)) - 1) << lo;
            if ((_words.Get(p >> 6) & mask) != 0) return true;
            p += hi - lo;
        }
        return false;
    }

    public void SetRange(long pfn, long count, bool value)
    {
        for (long p = Math.Max(pfn, 0), end = pfn + count; p < end;)
        {
            long w = p >> 6;
            int lo = (int)(p & 63), hi = (int)Math.Min(64, lo + (end - p));
            ulong mask = hi - lo == 64 ? ulong.MaxValue : ((1UL << (hi - lo)) - 1) << lo;
            ulong old = _words.Get(w);
            _words.Set(w, value ? old | mask : old & ~mask);
            p += hi - lo;
        }
    }
}

/// <summary>
/// A value per page frame, stored in 64 Ki-frame pages allocated when first written: array speed for the live
/// allocation tables the replay consults on every event, memory only where the trace touches (0 means "none").
/// </summary>
public sealed class SparsePfnMap<T> where T : struct, IEquatable<T>
{
    const int Shift = 16, PageSize = 1 << Shift, Mask = PageSize - 1;
    T[]?[] _pages = new T[]?[64];
    public int Count { get; private set; }

    public T Get(long pfn)
    {
        long p = pfn >> Shift;
        if ((ulong)p >= (ulong)_pages.Length) return default;
        var page = _pages[p];
        return page is null ? default : page[pfn & Mask];
    }

    public void Set(long pfn, T value)
    {
        if (pfn < 0) return;
        long p = pfn >> Shift;
        if (p >= _pages.Length)
        {
            if (p > int.MaxValue / 2) throw new ArgumentOutOfRangeException(nameof(pfn));
            Array.Resize(ref _pages, (int)Math.Max(p + 1, _pages.Length * 2L));
        }
        var page = _pages[p] ??= new T[PageSize];
        bool was = !page[pfn & Mask].Equals(default), now = !value.Equals(default);
        if (was != now) Count += now ? 1 : -1;
        page[pfn & Mask] = value;
    }
}
