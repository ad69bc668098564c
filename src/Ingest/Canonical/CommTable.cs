namespace AsiTrace.Ingest.Canonical;

/// <summary>Task names of one stream; <see cref="TraceEvent.CommId"/> indexes it.</summary>
public sealed class CommTable
{
    readonly ByteStringTable _table = new();
    public int Count => _table.Count;
    public string this[int id] => _table[id];
    public int Intern(ReadOnlySpan<byte> utf8) => _table.Intern(utf8);
    public int Intern(string s) => _table.Intern(s);
}
