namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// Interns UTF-8 byte strings to dense ids without allocating on a hit: an open-addressing table keyed by the
/// bytes. Used for comms (one per task, seen millions of times) and unknown event names.
/// </summary>
public sealed class ByteStringTable
{
    int[] _slots = new int[256]; // id + 1, 0 = empty
    readonly List<byte[]> _bytes = new();
    // Published array of strings: grows by copy-then-publish, so another thread may read ids it was handed
    // (e.g. a Parquet writer thread resolving comm ids) while this one interns new names.
    string[] _stringArray = new string[16];
    int _count;
    readonly List<ulong> _hashes = new();

    public int Count => _count;
    public string this[int id] => Volatile.Read(ref _stringArray)[id];

    public int Intern(ReadOnlySpan<byte> s)
    {
        ulong h = Hash(s);
        int mask = _slots.Length - 1;
        int i = (int)h & mask;
        while (true)
        {
            int slot = _slots[i];
            if (slot == 0) break;
            int id = slot - 1;
            if (_hashes[id] == h && s.SequenceEqual(_bytes[id])) return id;
            i = (i + 1) & mask;
        }
        int newId = _count;
        _bytes.Add(s.ToArray());
        if (newId == _stringArray.Length)
        {
            var bigger = new string[_stringArray.Length * 2];
            Array.Copy(_stringArray, bigger, newId);
            Volatile.Write(ref _stringArray, bigger);
        }
        _stringArray[newId] = System.Text.Encoding.UTF8.GetString(s);
        _count = newId + 1;
        _hashes.Add(h);
        _slots[i] = newId + 1;
        if (_count * 2 > _slots.Length) Grow();
        return newId;
    }

    public int Intern(string s) => Intern(System.Text.Encoding.UTF8.GetBytes(s));

    void Grow()
    {
        var slots = new int[_slots.Length * 2];
        int mask = slots.Length - 1;
        for (int id = 0; id < _count; id++)
        {
            int i = (int)_hashes[id] & mask;
            while (slots[i] != 0) i = (i + 1) & mask;
            slots[i] = id + 1;
        }
        _slots = slots;
    }

    static ulong Hash(ReadOnlySpan<byte> s)
    {
        var hc = new HashCode();
        hc.AddBytes(s);
        return (uint)hc.ToHashCode();
    }
}
