namespace AsiTrace.Model.Alloc;

/// <summary>A set of page frames (pages held by allocations older than a trace, …).</summary>
public interface IPfnSet
{
    bool Contains(long pfn);
}

/// <summary>One bit per page frame over [Base, Base + Pages): a set of pfns with range queries in 64-page words.</summary>
public sealed class PfnBitmap : IPfnSet
{
    readonly ulong[] _bits;
    public long Base { get; }
    public long Pages { get; }

    public PfnBitmap(long basePfn, long pages)
    {
        if (pages < 0 || pages > (1L << 36)) throw new ArgumentOutOfRangeException(nameof(pages));
        Base = basePfn; Pages = pages;
        _bits = new ulong[(pages + 63) >> 6];
    }

    public bool Contains(long pfn)
    {
        long i = pfn - Base;
        return (ulong)i < (ulong)Pages && (_bits[i >> 6] & (1UL << (int)(i & 63))) != 0;
    }

    /// <summary>Is any pfn of [pfn, pfn + count) in the set?</summary>
    public bool ContainsAny(long pfn, long count)
    {
        for (long i = 0; i < count; i++) if (Contains(pfn + i)) return true;
        return false;
    }

    /// <summary>Adds [pfn, pfn + count), clipped to the map.</summary>
    public void AddRange(long pfn, long count)
    {
        long s = Math.Max(pfn - Base, 0), e = Math.Min(pfn - Base + count, Pages);
        for (long i = s; i < e;)
        {
            if ((i & 63) == 0 && e - i >= 64) { _bits[i >> 6] = ulong.MaxValue; i += 64; continue; }
            _bits[i >> 6] |= 1UL << (int)(i & 63);
            i++;
        }
    }

    /// <summary>Is any page of [pfn, pfn + count) in the set? Pages outside the map count as not in it.</summary>
    public bool AnyInRange(long pfn, long count)
    {
        long s = Math.Max(pfn - Base, 0), e = Math.Min(pfn - Base + count, Pages);
        for (long i = s; i < e;)
        {
            if ((i & 63) == 0 && e - i >= 64) { if (_bits[i >> 6] != 0) return true; i += 64; continue; }
            if ((_bits[i >> 6] & (1UL << (int)(i & 63))) != 0) return true;
            i++;
        }
        return false;
    }

    /// <summary>Is every page of [pfn, pfn + count) in the set? Pages outside the map count as not in it.</summary>
    public bool AllInRange(long pfn, long count)
    {
        if (pfn < Base || pfn - Base + count > Pages) return false;
        long s = pfn - Base, e = s + count;
        for (long i = s; i < e;)
        {
            if ((i & 63) == 0 && e - i >= 64) { if (_bits[i >> 6] != ulong.MaxValue) return false; i += 64; continue; }
            if ((_bits[i >> 6] & (1UL << (int)(i & 63))) == 0) return false;
            i++;
        }
        return true;
    }
}
