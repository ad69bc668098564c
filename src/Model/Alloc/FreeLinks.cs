namespace AsiTrace.Model.Alloc;

/// <summary>
/// The <c>lru</c> links of free buddy heads (struct page's list_head while on a free list), kept only for pages that
/// are free heads: an open-addressing table keyed by page index, so the per-page state stays at two bytes however
/// large the zone (a model of a 1 TiB machine must fit in a few GiB). Linear probing with backward-shift deletion.
/// </summary>
sealed class FreeLinks
{
    int[] _keys, _prev, _next;
    int _mask, _count;

    public FreeLinks(int capacity = 1024)
    {
        int c = 16;
        while (c < capacity * 2) c <<= 1;
        _keys = new int[c]; _prev = new int[c]; _next = new int[c];
        Array.Fill(_keys, -1);
        _mask = c - 1;
    }

    public int Count => _count;
    /// <summary>Bytes held (for the memory accounting the tests check).</summary>
    public long Bytes => (long)_keys.Length * 12;

    int Slot(int key)
    {
        int s = (int)(((uint)key * 0x9E3779B1u) >> 7) & _mask;
        while (_keys[s] != key)
        {
            if (_keys[s] < 0) return ~s;
            s = (s + 1) & _mask;
        }
        return s;
    }

    public void Add(int key, int prev, int next)
    {
        if (_count * 2 >= _keys.Length) Grow();
        int s = Slot(key);
        if (s < 0) { s = ~s; _keys[s] = key; _count++; }
        _prev[s] = prev; _next[s] = next;
    }

    public int Next(int key) => _next[Slot(key)];
    public int Prev(int key) => _prev[Slot(key)];
    public void SetNext(int key, int v) => _next[Slot(key)] = v;
    public void SetPrev(int key, int v) => _prev[Slot(key)] = v;

    public void Remove(int key)
    {
        int s = Slot(key);
        if (s < 0) return;
        _count--;
        // Backward-shift deletion: move later entries of the probe run into the hole so lookups never need tombstones.
        int hole = s;
        int j = s;
        while (true)
        {
            j = (j + 1) & _mask;
            int k = _keys[j];
            if (k < 0) break;
            int home = (int)(((uint)k * 0x9E3779B1u) >> 7) & _mask;
            // Move k into the hole when its home is not cyclically in (hole, j].
            bool between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (between) continue;
            _keys[hole] = k; _prev[hole] = _prev[j]; _next[hole] = _next[j];
            hole = j;
        }
        _keys[hole] = -1;
    }

    void Grow()
    {
        var (keys, prev, next) = (_keys, _prev, _next);
        int c = keys.Length * 2;
        _keys = new int[c]; _prev = new int[c]; _next = new int[c];
        Array.Fill(_keys, -1);
        _mask = c - 1;
        _count = 0;
        for (int i = 0; i < keys.Length; i++) if (keys[i] >= 0) Add(keys[i], prev[i], next[i]);
    }
}
