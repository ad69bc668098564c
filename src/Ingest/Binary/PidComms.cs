using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// pid → comm id for binary traces, named as <c>trace-cmd report</c> names them: the saved cmdline, <c>&lt;idle&gt;</c> for
/// pid 0 and <c>&lt;...&gt;</c> for a pid the kernel's cmdline cache had lost. In perf style (COMM/FORK records)
/// pid 0 is <c>swapper</c> and an unknown thread <c>:tid</c>, as <c>perf script</c> prints them.
/// </summary>
public sealed class PidComms(CommTable comms, bool perfStyle = false)
{
    readonly Dictionary<int, string> _names = new();
    readonly Dictionary<int, int> _ids = new();
    int _lastPid = int.MinValue, _lastId;
    int _unknownId = -1, _idleId = -1;

    public void Set(int pid, string comm)
    {
        _names[pid] = comm;
        _ids.Remove(pid);
        if (pid == _lastPid) _lastPid = int.MinValue;
    }

    public void SetAll(IReadOnlyDictionary<int, string> cmdlines)
    {
        foreach (var (pid, comm) in cmdlines) Set(pid, comm);
    }

    public string? Name(int pid) => _names.TryGetValue(pid, out var n) ? n : null;

    public int Get(int pid)
    {
        if (pid == _lastPid) return _lastId;
        if (!_ids.TryGetValue(pid, out int id))
        {
            if (_names.TryGetValue(pid, out var name)) id = comms.Intern(name);
            else if (pid == 0) id = _idleId >= 0 ? _idleId : (_idleId = comms.Intern(perfStyle ? "swapper" : "<idle>"));
            else if (perfStyle) id = comms.Intern(":" + pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            else id = _unknownId >= 0 ? _unknownId : (_unknownId = comms.Intern("<...>"));
            _ids[pid] = id;
        }
        _lastPid = pid; _lastId = id;
        return id;
    }

    /// <summary>The kernel release from uname text (<c>Linux host 6.18.44-fc #1 SMP …</c>) or a bare release.</summary>
    public static string? ReleaseFromUname(string? uname)
    {
        if (string.IsNullOrWhiteSpace(uname)) return null;
        var w = uname.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return w.Length >= 3 && w[0] == "Linux" ? w[2] : w[0];
    }
}
