using System.Diagnostics;

namespace AsiTrace.Tests.Hostile;

/// <summary>Inputs and outputs that are not regular files, leftovers of killed runs, and the options and messages that
/// misled: each has the documented exit code and a message that says what to do.</summary>
public class HostileFileSystemTests
{
    static string Sample => TestPaths.Sample("dd-cat/trace.txt");

    static void MkFifo(string path)
    {
        using var p = Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public async Task AFifoWithAWriterReadsLikeStdin()
    {
        var fifo = Path.Combine(TestPaths.TempDir(), "trace.fifo");
        MkFifo(fifo);
        var writer = Task.Run(() => { using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write); w.Write(File.ReadAllBytes(Sample)); });
        var (code, _, err) = Cli.CliTests.Run("stats", fifo);
        await writer;
        Assert.True(code == 0, err);
        Assert.Contains("3,117 events", err);
    }

    [Fact]
    public void ADirectoryHoldingAFifoIsSearchedWithoutOpeningIt()
    {
        var dir = TestPaths.TempDir();
        File.Copy(Sample, Path.Combine(dir, "trace.txt"));
        MkFifo(Path.Combine(dir, "a-fifo"));
        var (code, _, err) = Cli.CliTests.Run("stats", dir);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void OutputOntoACharacterDeviceIsRefusedAndTheNodeStays()
    {
        if (Environment.UserName != "root") return; // mknod needs root; CI runs as root
        var node = Path.Combine(TestPaths.TempDir(), "null-node");
        using (var p = Process.Start("mknod", [node, "c", "1", "3"])!) { p.WaitForExit(); Assert.Equal(0, p.ExitCode); }
        var (code, _, err) = Cli.CliTests.Run("ingest", Sample, "-o", node);
        Assert.Equal(4, code);
        Assert.Contains("not a file asitrace may replace", err);
        Assert.Equal(AsiTrace.Ingest.Input.UnixFileType.Kind.CharDevice, AsiTrace.Ingest.Input.UnixFileType.Of(node));
    }

    [Fact]
    public void TempFilesOfAKilledRunAreRemovedByTheNextOne()
    {
        var dir = TestPaths.TempDir();
        var stale = Path.Combine(dir, ".events.parquet.tmp-999999999");
        File.WriteAllText(stale, "half-written");
        var (code, _, err) = Cli.CliTests.Run("ingest", Sample, "-o", Path.Combine(dir, "events.parquet"));
        Assert.True(code == 0, err);
        Assert.False(File.Exists(stale));
        Assert.Equal(["events.parquet"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData(" \n\t\n")]
    public void EmptyInputIsAnEmptyTraceWhateverTheBlankLines(string content)
    {
        var path = Path.Combine(TestPaths.TempDir(), "empty.txt");
        File.WriteAllText(path, content);
        var (code, stdout, err) = Cli.CliTests.Run("stats", "--json", path);
        Assert.True(code == 0, err);
        Assert.Equal(0, System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("events").GetInt64());
    }

    [Theory]
    [InlineData("stats")]
    [InlineData("report")]
    [InlineData("replay")]
    public void AMissingInputIsExit4ForEveryCommand(string command)
    {
        var missing = Path.Combine(TestPaths.TempDir(), "nothing-here");
        var args = command == "replay" ? new[] { command, missing, "-o", Path.Combine(TestPaths.TempDir(), "o") } : new[] { command, missing };
        var (code, _, _) = Cli.CliTests.Run(args);
        Assert.Equal(4, code);
    }

    [Fact]
    public void MisleadingHelpAndNamesAreFixed()
    {
        var (_, help, _) = Cli.CliTests.Run("replay", "--help");
        Assert.DoesNotContain("InitialSensitive=", help);
        Assert.Contains("InitialSensitivity=", help);
        Assert.Contains("Zero4K", help);                                    // the cost names are listed
        var (code, _, err) = Cli.CliTests.Run("replya", Sample);
        Assert.Equal(2, code);
        Assert.Contains("did you mean 'replay'", err);
        var (c2, _, e2) = Cli.CliTests.Run("replay", Sample, "-o", Path.Combine(TestPaths.TempDir(), "o"), "--cost", "Zer04K=1");
        Assert.Equal(2, c2);
        Assert.Contains("Zero4K", e2);                                      // a wrong cost name lists the right ones
        var (_, synthHelp, _) = Cli.CliTests.Run("synth", "--help");
        foreach (var (scenario, ps) in AsiTrace.Replay.Synth.Scenarios.Parameters)
            foreach (var p in ps) Assert.Contains($"{p.Name}={p.Default}", synthHelp);   // every synth parameter, with its default
        var (c3, _, e3) = Cli.CliTests.Run("stats", Sample, "--format-dir", "/nonexistent-dir");
        Assert.Equal(2, c3);
        Assert.Contains("no such directory", e3);
    }
}

public class LongFirstLineTests
{
    [Fact]
    public void ATenMegabyteFirstLineDoesNotHideTheFormat()
    {
        var path = Path.Combine(TestPaths.TempDir(), "long.txt");
        using (var f = File.Create(path))
        {
            f.Write(System.Text.Encoding.ASCII.GetBytes(new string('x', 10_000_000) + "\n"));
            f.Write(File.ReadAllBytes(TestPaths.Sample("dd-cat/trace.txt")));
        }
        var (code, _, err) = Cli.CliTests.Run("stats", path);
        Assert.True(code == 0, err);
        Assert.Contains("3,117 events", err);
        Assert.Contains("overlong_line: 1", err);
    }
}

public class AnalyzeOptionsTests
{
    [Fact]
    public void AnalyzeTakesTheReplayOptions()
    {
        var dir = Path.Combine(TestPaths.TempDir(), "an");
        var (code, _, err) = Cli.CliTests.Run("analyze", TestPaths.Sample("dd-cat"), "-o", dir, "--policy", "noasi");
        Assert.True(code == 0, err);
        var totals = File.ReadAllText(Path.Combine(dir, "totals.csv"));
        Assert.Contains("noasi", totals);
        Assert.DoesNotContain("asi-rfc", totals);
        var (bad, _, badErr) = Cli.CliTests.Run("analyze", TestPaths.Sample("dd-cat"), "-o", Path.Combine(dir, "b"), "--policy", "bogus");
        Assert.Equal(2, bad);
        Assert.Contains("unknown policy", badErr);
    }
}

public class RunManifestInputsTests
{
    [Fact]
    public void OnlyTheFilesReadAreListedAsInputs()
    {
        // A directory that is not a recording: one trace file is read, one is listed (not the other six).
        var dir = Path.Combine(TestPaths.TempDir(), "an");
        var (code, _, err) = Cli.CliTests.Run("replay", TestPaths.Sample("trace-cmd"), "-o", dir, "--policy", "noasi", "--interval", "0");
        Assert.True(code == 0, err);
        using var run = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "run.json")));
        var inputs = run.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("path").GetString()!).ToList();
        Assert.Single(inputs);
        // A recording: its trace, then its snapshots' files.
        var rec = Path.Combine(TestPaths.TempDir(), "rec");
        Assert.Equal(0, Cli.CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", rec, "--policy", "noasi", "--interval", "0").Code);
        using var run2 = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(rec, "run.json")));
        var inputs2 = run2.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("path").GetString()!).ToList();
        Assert.EndsWith("trace.txt", inputs2[0]);
        Assert.All(inputs2.Skip(1), p => Assert.Contains("snapshot-", p));
    }

    [Fact]
    public void AReplayOfBadInputLeavesNoOutputDirectoryBehind()
    {
        // A trace.dat cut short: the reader finds it out during the replay, after the output directory was needed.
        string root = TestPaths.TempDir();
        string cut = Path.Combine(root, "cut.dat");
        File.WriteAllBytes(cut, File.ReadAllBytes(TestPaths.Sample("trace-cmd/v7-zstd.dat"))[..300_000]);
        string fresh = Path.Combine(root, "fresh");
        foreach (var extra in new[] { Array.Empty<string>(), new[] { "--requests" } })
        {
            var (code, _, err) = Cli.CliTests.Run(["replay", cut, "-o", fresh, "--policy", "noasi", .. extra]);
            Assert.Equal(3, code);
            Assert.Contains("cut.dat", err);
            Assert.False(Directory.Exists(fresh), "the directory made for the results was left behind");
        }
        // A directory that existed keeps what it held.
        string existing = Path.Combine(root, "existing");
        Directory.CreateDirectory(existing);
        File.WriteAllText(Path.Combine(existing, "keep.txt"), "x");
        Assert.Equal(3, Cli.CliTests.Run("replay", cut, "-o", existing, "--policy", "noasi").Code);
        Assert.Equal(["keep.txt"], Directory.GetFiles(existing).Select(Path.GetFileName));
    }
}
