namespace AsiTrace.Ingest.Binary.Perf;

/// <summary>
/// Puts perf records in time order the way perf's ordered-events queue does, without sorting and without copying
/// events: perf copies each CPU's ring buffer in turn, so every CPU's records are already in order and only the CPUs
/// need merging. One queue per CPU (plus one for records without a CPU) holds (time, file offset) pairs, merged by
/// (time, offset) — the offset is the arrival order — through a heap of queue heads. A record older than its queue's
/// tail (not seen on real files) is moved back into place. The reader decodes each record when it is released.
/// </summary>
sealed class RoundOrderer
{
    /// <summary>A queued record: its time and file offset, and for samples where the RAW payload is and whose task it is,
    /// so the record is not parsed twice.</summary>
    public struct Entry
    {
        public long Ts, Offset;
        public int RawAt, RawLength, Tid;
        public ushort Cpu;
        public bool HasTid;
    }

    sealed class Queue
    {
        public Entry[] Items = new Entry[4096];
        public int Head, Count;
        public int Mask => Items.Length - 1;

        public void Grow()
        {
            var items = new Entry[Items.Length * 2];
            for (int i = 0; i < Count; i++) items[i] = Items[(Head + i) & Mask];
            Items = items; Head = 0;
        }
    }

    Queue?[] _queues = new Queue?[8];
    readonly IdHeap<HeadOrder> _heap;
    bool _heapValid;

    public RoundOrderer() => _heap = new IdHeap<HeadOrder>(new HeadOrder(this));

    /// <summary>Queues by their head record: (time, file offset).</summary>
    readonly struct HeadOrder(RoundOrderer o) : IIdOrder
    {
        public bool Less(int a, int b)
        {
            var qa = o._queues[a]!; var qb = o._queues[b]!;
            var x = qa.Items[qa.Head]; var y = qb.Items[qb.Head];
            return x.Ts < y.Ts || (x.Ts == y.Ts && x.Offset < y.Offset);
        }
    }
    public int Pending { get; private set; }

    static int Index(int cpu) => cpu < 0 || cpu > ushort.MaxValue ? 0 : cpu + 1;

    public void Add(int cpu, in Entry entry)
    {
        int qi = Index(cpu);
        if (qi >= _queues.Length)
        {
            Array.Resize(ref _queues, Math.Max(qi + 1, _queues.Length * 2));
        }
        var q = _queues[qi] ??= new Queue();
        if (q.Count == q.Items.Length) q.Grow();
        int last = q.Count;
        q.Items[(q.Head + last) & q.Mask] = entry;
        q.Count++;
        Pending++;
        _heapValid = false;
        // Keep the queue in (time, offset) order: walk a late record back to its place.
        while (last > 0)
        {
            int a = (q.Head + last - 1) & q.Mask, b = (q.Head + last) & q.Mask;
            if (q.Items[a].Ts <= q.Items[b].Ts) break;
            (q.Items[a], q.Items[b]) = (q.Items[b], q.Items[a]);
            last--;
        }
    }

    /// <summary>The smallest file offset still queued (records before it are done with), or <paramref name="none"/>.</summary>
    public long OldestOffset(long none)
    {
        long min = none;
        foreach (var q in _queues)
        {
            if (q is null) continue;
            for (int i = 0; i < q.Count; i++) min = Math.Min(min, q.Items[(q.Head + i) & q.Mask].Offset);
        }
        return min;
    }

    /// <summary>The next record in (time, offset) order, if its time is at most <paramref name="limit"/>.</summary>
    public bool TryPeek(long limit, out Entry next)
    {
        if (!_heapValid) Rebuild();
        next = default;
        if (_heap.Count == 0) return false;
        var q = _queues[_heap.Top]!;
        next = q.Items[q.Head];
        return next.Ts <= limit;
    }

    /// <summary>Removes the record <see cref="TryPeek"/> returned.</summary>
    public void Pop()
    {
        var q = _queues[_heap.Top]!;
        q.Head = (q.Head + 1) & q.Mask;
        q.Count--;
        Pending--;
        if (q.Count == 0) _heap.PopTop();
        else _heap.TopChanged();
    }

    void Rebuild()
    {
        _heap.Clear();
        for (int i = 0; i < _queues.Length; i++) if (_queues[i] is { Count: > 0 }) _heap.AddUnordered(i);
        _heap.Heapify();
        _heapValid = true;
    }
}
