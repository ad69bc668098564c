using System.Security.Cryptography;

namespace AsiTrace.Fleet;

/// <summary>One trace of a corpus: a trace file or a recording directory, with the hash its results are keyed by.</summary>
/// <param name="Id">the first 16 hex digits of <paramref name="Sha256"/>: the name of its <c>trace=&lt;id&gt;</c> directory,
/// stable wherever and whenever the corpus is run.</param>
public sealed record FleetTrace(string Input, string Sha256, string Id);

/// <summary>Finds the traces under the paths given to <c>fleet run</c> and hashes them.</summary>
public static class FleetCorpus
{
    /// <summary>Files that sit beside traces in a corpus and are not traces.</summary>
    static readonly string[] NotTraces = [".md", ".json", ".sh", ".txt.sha256", ".log", ".csv.schema"];

    /// <summary>A recording directory (what <c>asitrace record</c> or the corpus scripts write): one trace.</summary>
    public static bool IsRecording(string dir) =>
        Directory.Exists(Path.Combine(dir, "snapshot-start")) || File.Exists(Path.Combine(dir, "record.json"));

    /// <summary>Each path is a trace file, a recording directory, or a directory whose files and recording directories
    /// are traces (one level down, in name order). The same content twice is one trace.</summary>
    public static List<FleetTrace> Discover(IEnumerable<string> paths)
    {
        var inputs = new List<string>();
        foreach (var p in paths)
        {
            if (File.Exists(p)) inputs.Add(Path.GetFullPath(p));
            else if (Directory.Exists(p))
            {
                if (IsRecording(p)) { inputs.Add(Path.GetFullPath(p)); continue; }
                foreach (var entry in Directory.EnumerateFileSystemEntries(p).Order(StringComparer.Ordinal))
                {
                    string name = Path.GetFileName(entry);
                    if (name.StartsWith('.')) continue;
                    if (Directory.Exists(entry)) { if (IsRecording(entry)) inputs.Add(Path.GetFullPath(entry)); }
                    else if (!NotTraces.Any(s => name.EndsWith(s, StringComparison.OrdinalIgnoreCase)) && !name.StartsWith("README", StringComparison.Ordinal))
                        inputs.Add(Path.GetFullPath(entry));
                }
            }
            else throw new FileNotFoundException($"{p}: no such file or directory");
        }
        var traces = new List<FleetTrace>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            string sha = Hash(input);
            if (seen.Add(sha)) traces.Add(new FleetTrace(input, sha, sha[..16]));
        }
        if (traces.Count == 0) throw new FileNotFoundException($"{string.Join(", ", paths)}: no trace file or recording directory there");
        return traces;
    }

    /// <summary>SHA-256 of a file's bytes, or of a directory's files (relative path and content, in name order).</summary>
    public static string Hash(string input)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (File.Exists(input)) AddFile(sha, input);
        else
            foreach (var f in Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(input, f) + "\0"));
                AddFile(sha, f);
            }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static void AddFile(IncrementalHash sha, string path)
    {
        using var fs = File.OpenRead(path);
        var buf = new byte[1 << 20];
        int n;
        while ((n = fs.Read(buf)) > 0) sha.AppendData(buf.AsSpan(0, n));
    }
}
