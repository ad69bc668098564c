namespace AsiTrace.Fleet;

/// <summary>Progress of a fleet run: one line, redrawn on a terminal, printed at each change otherwise.</summary>
public sealed class FleetProgress(TextWriter output, int total, bool terminal)
{
    int _done, _failed, _running, _skipped;
    readonly object _lock = new();

    public void Skipped(int n) { lock (_lock) { _skipped += n; _done += n; Draw(); } }
    public void Started() { lock (_lock) { _running++; Draw(); } }
    public void Finished(bool ok) { lock (_lock) { _running--; _done++; if (!ok) _failed++; Draw(); } }
    public void Note(string text) { lock (_lock) { if (terminal) output.Write("\r\x1b[K"); output.WriteLine(text); Draw(); } }

    void Draw()
    {
        string line = $"fleet: {_done}/{total} done ({_skipped} already there, {_failed} failed), {_running} running";
        if (terminal) output.Write("\r\x1b[K" + line);
        else output.WriteLine(line);
    }

    public void Done() { lock (_lock) { if (terminal) output.WriteLine(); } }
}
