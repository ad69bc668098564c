namespace AsiTrace.Cli.Output;

/// <summary>Writes to a temporary name beside the target and renames on success, so an interrupted run never leaves a
/// truncated output behind (README, Commands).</summary>
public sealed class AtomicFile : IDisposable
{
    public string Target { get; }
    public string TempPath { get; }
    public FileStream Stream { get; }
    bool _committed;

    public AtomicFile(string target)
    {
        Target = Path.GetFullPath(target);
        string dir = Path.GetDirectoryName(Target) ?? ".";
        if (!Directory.Exists(dir)) throw new IOException($"{target}: directory {dir} does not exist");
        TempPath = Path.Combine(dir, $".{Path.GetFileName(Target)}.tmp-{Environment.ProcessId}");
        Stream = new FileStream(TempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
    }

    public void Commit()
    {
        Stream.Flush(true);
        Stream.Dispose();
        File.Move(TempPath, Target, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        Stream.Dispose();
        try { File.Delete(TempPath); } catch (IOException) { }
    }
}
