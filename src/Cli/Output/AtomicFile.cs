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
        // Only a regular file (or nothing) may be replaced: renaming over a device node or a FIFO would swap it for a file.
        var kind = Ingest.Input.UnixFileType.Of(Target);
        if (kind is not (Ingest.Input.UnixFileType.Kind.Missing or Ingest.Input.UnixFileType.Kind.Regular))
            throw new IOException($"{target}: is a {kind.ToString().ToLowerInvariant()}, not a file asitrace may replace");
        RemoveStaleTemps(dir, Path.GetFileName(Target));
        TempPath = Path.Combine(dir, $".{Path.GetFileName(Target)}.tmp-{Environment.ProcessId}");
        Stream = new FileStream(TempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
    }

    /// <summary>Temporary files of this target left by a process that no longer runs (killed with -9 before it could
    /// remove them).</summary>
    static void RemoveStaleTemps(string dir, string name)
    {
        string prefix = $".{name}.tmp-";
        try
        {
            foreach (var f in Directory.EnumerateFiles(dir, prefix + "*"))
            {
                if (!int.TryParse(Path.GetFileName(f).AsSpan(prefix.Length), out int pid) || pid == Environment.ProcessId) continue;
                if (Directory.Exists($"/proc/{pid}")) continue;
                try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
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
