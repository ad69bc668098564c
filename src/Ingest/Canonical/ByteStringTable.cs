namespace AsiTrace.Ingest.Canonical;

/// <summary>
/// Interns UTF-8 byte strings to dense ids without allocating on a hit: an open-addressing table keyed by the
/// bytes. Used for comms (one per task, seen millions of times) and unknown event names.
/// </summary>
public sealed class ByteStringTable
{
    int[] _slots = new int[256]; // id + 1, 0 = empty
    readonly List<byte[]> _bytes = new();
    readonly List<string> _strings = new();
    readonly List<ulong> _hashes = new();

    public int Count => _strings.Count;
    public string this[int id] => _strings[id];

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
        int newId = _strings.Count;
        _bytes.Add(s.ToArray());
        _strings.Add(System.Text.Encoding.UTF8.GetString(s));
        _hashes.Add(h);
        _slots[i] = newId + 1;
        if (_strings.Count * 2 > _slots.Length) Grow();
        return newId;
    }

    public int Intern(string s) => Intern(System.Text.Encoding.UTF8.GetBytes(s));

    void Grow()
    {
        var slots = new int[_slots.Length * 2];
        int mask = slots.Length - 1;
        for (int id = 0; id < _strings.Count; id++)
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
