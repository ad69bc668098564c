namespace AsiTrace.Ingest.Canonical;

public enum Severity : byte { Info, Error, DataLoss }

/// <summary>
/// Named counters with a severity, filled by every reader (after Perfetto's stats table). Hot paths hold an
/// integer handle from <see cref="Register"/> and bump it with <see cref="Add"/>; events of unknown kinds are
/// counted by their tracepoint name. Also keeps the first few diagnostics (line, byte offset, text) per reason.
/// </summary>
public sealed class TraceStats
{
    readonly List<string> _names = new();
    readonly List<Severity> _severities = new();
    long[] _values = new long[32];
    readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    readonly List<string> _diagnostics = new();
    readonly Dictionary<int, int> _diagnosticsPerCounter = new();
    public const int MaxDiagnosticsPerReason = 5;

    /// <summary>Events counted by name for tracepoints the schema does not cover.</summary>
    public NameCounter OtherEvents { get; } = new();

    public int Register(string name, Severity severity)
    {
        if (_index.TryGetValue(name, out int h)) return h;
        h = _names.Count;
        _names.Add(name);
        _severities.Add(severity);
        if (h >= _values.Length) Array.Resize(ref _values, _values.Length * 2);
        _index[name] = h;
        return h;
    }

    public void Add(int handle, long n = 1) => _values[handle] += n;

    public void Add(string name, Severity severity, long n = 1)
    {
        // Register first: it may grow _values, and `_values[Register(…)] += n` would index the array read before it grew.
        int h = Register(name, severity);
        _values[h] += n;
    }

    public long Get(string name) => _index.TryGetValue(name, out int h) ? _values[h] : 0;

    /// <summary>Counts a problem and keeps its description if fewer than <see cref="MaxDiagnosticsPerReason"/> were kept.</summary>
    public void Report(int handle, string where, ReadOnlySpan<byte> text)
    {
        _values[handle]++;
        _diagnosticsPerCounter.TryGetValue(handle, out int kept);
        if (kept >= MaxDiagnosticsPerReason) return;
        _diagnosticsPerCounter[handle] = kept + 1;
        var shown = text.Length > 200 ? text[..200] : text;
        _diagnostics.Add($"{_names[handle]}: {where}: {System.Text.Encoding.UTF8.GetString(shown)}");
    }

    public IReadOnlyList<string> Diagnostics => _diagnostics;

    public IEnumerable<(string Name, Severity Severity, long Value)> Counters
    {
        get
        {
            for (int i = 0; i < _names.Count; i++)
                if (_values[i] != 0) yield return (_names[i], _severities[i], _values[i]);
        }
    }

    /// <summary>Adds another stats object's counters into this one (several inputs, one output).</summary>
    public void Merge(TraceStats other)
    {
        for (int i = 0; i < other._names.Count; i++)
            if (other._values[i] != 0)
            {
                int h = Register(other._names[i], other._severities[i]);
                _values[h] += other._values[i];
            }
        foreach (var (name, n) in other.OtherEvents.Items) OtherEvents.Add(name, n);
        foreach (var d in other._diagnostics) if (_diagnostics.Count < 50) _diagnostics.Add(d);
    }

    public static string SeverityName(Severity s) => s switch { Severity.Info => "info", Severity.Error => "error", _ => "data_loss" };

    public static Severity ParseSeverity(string s) => s switch { "info" => Severity.Info, "error" => Severity.Error, _ => Severity.DataLoss };
}

/// <summary>Counts names given as UTF-8 spans without allocating once a name has been seen.</summary>
public sealed class NameCounter
{
    readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    readonly ByteStringTable _names = new();
    long[] _byId = new long[16];

    public void Add(ReadOnlySpan<byte> name, long n = 1)
    {
        int id = _names.Intern(name);
        if (id >= _byId.Length) Array.Resize(ref _byId, Math.Max(id + 1, _byId.Length * 2));
        _byId[id] += n;
    }

    public void Add(string name, long n) => _counts[name] = _counts.GetValueOrDefault(name) + n;

    public IEnumerable<(string Name, long Count)> Items
    {
        get
        {
            var all = new Dictionary<string, long>(_counts, StringComparer.Ordinal);
            for (int i = 0; i < _names.Count; i++)
                if (_byId[i] != 0) all[_names[i]] = all.GetValueOrDefault(_names[i]) + _byId[i];
            return all.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList();
        }
    }
}
