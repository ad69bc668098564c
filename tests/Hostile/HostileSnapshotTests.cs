using System.Text.RegularExpressions;

namespace AsiTrace.Tests.Hostile;

/// <summary>Record directories whose snapshot was damaged: each is refused as invalid input (exit 3) naming the file or
/// field, quickly and without sizing anything from the damaged value.</summary>
public class HostileSnapshotTests
{
    /// <summary>A copy of the dd-cat recording with <paramref name="edit"/> applied to its start snapshot.</summary>
    static string Damaged(Action<string> edit)
    {
        var dir = TestPaths.TempDir();
        var src = TestPaths.Sample("dd-cat");
        foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(dir, Path.GetRelativePath(src, f));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(f, to);
        }
        edit(Path.Combine(dir, "snapshot-start"));
        return dir;
    }

    static void Replace(string file, string pattern, string replacement) =>
        File.WriteAllText(file, new Regex(pattern, RegexOptions.Multiline).Replace(File.ReadAllText(file), replacement, 1));

    public static TheoryData<string> Cases() => ["no-zoneinfo", "start_pfn", "spanned", "iomem", "nproc", "format-id"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void DamagedSnapshotsAreInvalidInput(string damage)
    {
        var dir = Damaged(s =>
        {
            switch (damage)
            {
                case "no-zoneinfo": File.Delete(Path.Combine(s, "zoneinfo")); break;
                case "start_pfn": Replace(Path.Combine(s, "zoneinfo"), @"start_pfn:\s+4096", "start_pfn:           4611686018427387904"); break;
                case "spanned": Replace(Path.Combine(s, "zoneinfo"), @"spanned\s+1044480", "spanned  4611686018427387904"); break;
                case "iomem": File.AppendAllText(Path.Combine(s, "iomem"), "100000000000-7fffffffffffffff : System RAM\n"); break;
                case "nproc": File.WriteAllText(Path.Combine(s, "nproc"), "99999999\n"); break;
                case "format-id": Replace(Path.Combine(s, "kmem.mm_page_alloc.format"), @"^ID: \d+", "ID: abc"); break;
            }
        });
        var sw = System.Diagnostics.Stopwatch.StartNew();
        foreach (var cmd in new[] { "stats", "replay" })
        {
            var args = cmd == "replay" ? new[] { cmd, dir, "-o", Path.Combine(dir, "out"), "--policy", "noasi" } : new[] { cmd, dir };
            var (code, _, err) = Cli.CliTests.Run(args);
            if (cmd == "stats" && damage is not "format-id") { Assert.True(code is 0 or 3, err); continue; }
            Assert.True(code == 3, $"{cmd} {damage}: exit {code}: {err}");
            Assert.Contains("invalid input", err);
        }
    }
}
