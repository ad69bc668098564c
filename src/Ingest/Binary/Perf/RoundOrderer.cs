using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Binary.Perf;

/// <summary>
/// Puts perf records in time order the way perf's ordered-events queue does, without sorting: perf copies each CPU's
/// ring buffer in turn, so every CPU's records are already in order and only the CPUs need merging. One queue per CPU
/// (plus one for records without a CPU), merged by (time, arrival) through a heap of queue heads; a record older than
/// its queue's tail (not seen on real files) is moved back into place. Events are released up to a limit the reader
/// derives from FINISHED_ROUND markers.
/// </summary>
sealed class RoundOrderer
{
    sealed class Queue
    {
        public TraceEvent[] Items = new TraceEvent[256];
        public long[] Seq = new long[256];
        public int Head, Count;
        public int Mask => Items.Length - 1;

        public void Grow()
        {
            var items = new TraceEvent[Items.Length * 2];
            var seq = new long[Items.Length * 2];
            for (int i = 0; i < Count; i++) { items[i] = Items[(Head + i) & Mask]; seq[i] = Seq[(Head + i) & Mask]; }
            Items = items; Seq = seq; Head = 0;
        }
    }

    Queue?[] _queues = new Queue?[8];
    int[] _heap = new int[8];
    int _heapCount;
    bool _heapValid;
    long _seq;
    public int Pending { get; private set; }
    public long Reordered { get; private set; }

    static int Index(int cpu) => cpu < 0 || cpu > ushort.MaxValue ? 0 : cpu + 1;

    /// <summary>A slot at the tail of the CPU's queue; fill it, then call <see cref="Commit"/>; an uncommitted slot is reused by the next append.</summary>
    public ref TraceEvent Append(int cpu)
    {
        int qi = Index(cpu);
        if (qi >= _queues.Length)
        {
            Array.Resize(ref _queues, Math.Max(qi + 1, _queues.Length * 2));
            Array.Resize(ref _heap, _queues.Length);
        }
        var q = _queues[qi] ??= new Queue();
        if (q.Count == q.Items.Length) q.Grow();
        int slot = (q.Head + q.Count) & q.Mask;
        q.Seq[slot] = _seq++;
        return ref q.Items[slot];
    }

    public void Commit(int cpu)
    {
        var q = _queues[Index(cpu)]!;
        int last = q.Count;
        q.Count++;
        Pending++;
        _heapValid = false;
        // Keep the queue in (time, arrival) order: walk a late record back to its place.
        while (last > 0)
        {
            int a = (q.Head + last - 1) & q.Mask, b = (q.Head + last) & q.Mask;
            if (q.Items[a].TsNs <= q.Items[b].TsNs) break;
            (q.Items[a], q.Items[b]) = (q.Items[b], q.Items[a]);
            (q.Seq[a], q.Seq[b]) = (q.Seq[b], q.Seq[a]);
            Reordered++;
            last--;
        }
    }


    /// <summary>The queue whose head is the next record in (time, arrival) order, if that time is at most <paramref name="limit"/>.</summary>
    public bool TryPeek(long limit, out int queue)
    {
        if (!_heapValid) Rebuild();
        queue = -1;
        if (_heapCount == 0) return false;
        int q = _heap[0];
        var qq = _queues[q]!;
        if (qq.Items[qq.Head].TsNs > limit) return false;
        queue = q;
        return true;
    }

    public ref TraceEvent Head(int queue)
    {
        var q = _queues[queue]!;
        return ref q.Items[q.Head];
    }

    /// <summary>Removes the head returned by <see cref="TryPeek"/> (which must be the heap top).</summary>
    public void Pop(int queue)
    {
        var q = _queues[queue]!;
        q.Head = (q.Head + 1) & q.Mask;
        q.Count--;
        Pending--;
        if (q.Count == 0) { _heap[0] = _heap[--_heapCount]; }
        if (_heapCount > 0) SiftDown(0);
    }

    bool Less(int a, int b)
    {
        var qa = _queues[a]!; var qb = _queues[b]!;
        long ta = qa.Items[qa.Head].TsNs, tb = qb.Items[qb.Head].TsNs;
        return ta < tb || (ta == tb && qa.Seq[qa.Head] < qb.Seq[qb.Head]);
    }

    void Rebuild()
    {
        _heapCount = 0;
        for (int i = 0; i < _queues.Length; i++) if (_queues[i] is { Count: > 0 }) _heap[_heapCount++] = i;
        for (int i = _heapCount / 2 - 1; i >= 0; i--) SiftDown(i);
        _heapValid = true;
    }

    void SiftDown(int k)
    {
        while (true)
        {
            int l = 2 * k + 1, r = l + 1, m = k;
            if (l < _heapCount && Less(_heap[l], _heap[m])) m = l;
            if (r < _heapCount && Less(_heap[r], _heap[m])) m = r;
            if (m == k) return;
            (_heap[k], _heap[m]) = (_heap[m], _heap[k]);
            k = m;
        }
    }
}
