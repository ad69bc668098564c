namespace AsiTrace.Ingest.Binary;

/// <summary>How an <see cref="IdHeap{TOrder}"/> orders its ids (a struct, so the comparison inlines).</summary>
interface IIdOrder
{
    bool Less(int a, int b);
}

/// <summary>
/// A binary min-heap of small integer ids (CPUs, per-CPU queues) ordered by their current heads: the merge step of
/// both binary readers. The key of the top id may change in place; <see cref="TopChanged"/> restores the order.
/// </summary>
sealed class IdHeap<TOrder>(TOrder order, int capacity = 8) where TOrder : struct, IIdOrder
{
    int[] _ids = new int[Math.Max(capacity, 1)];
    public int Count { get; private set; }
    public int Top => _ids[0];

    public void Clear() => Count = 0;

    /// <summary>Adds without ordering; call <see cref="Heapify"/> after a run of adds.</summary>
    public void AddUnordered(int id)
    {
        if (Count == _ids.Length) Array.Resize(ref _ids, _ids.Length * 2);
        _ids[Count++] = id;
    }

    public void Heapify()
    {
        for (int i = Count / 2 - 1; i >= 0; i--) SiftDown(i);
    }

    public void Push(int id)
    {
        AddUnordered(id);
        int k = Count - 1;
        while (k > 0)
        {
            int p = (k - 1) / 2;
            if (!order.Less(_ids[k], _ids[p])) break;
            (_ids[k], _ids[p]) = (_ids[p], _ids[k]);
            k = p;
        }
    }

    /// <summary>The top's key moved on (it is no longer the smallest, maybe).</summary>
    public void TopChanged() => SiftDown(0);

    /// <summary>Removes the top (its source ran dry).</summary>
    public void PopTop()
    {
        _ids[0] = _ids[--Count];
        if (Count > 0) SiftDown(0);
    }

    void SiftDown(int k)
    {
        while (true)
        {
            int l = 2 * k + 1, r = l + 1, m = k;
            if (l < Count && order.Less(_ids[l], _ids[m])) m = l;
            if (r < Count && order.Less(_ids[r], _ids[m])) m = r;
            if (m == k) return;
            (_ids[k], _ids[m]) = (_ids[m], _ids[k]);
            k = m;
        }
    }
}
