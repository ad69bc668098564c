using System.Diagnostics;
using System.Text.Json;

namespace AsiTrace.Tests.Cli;

/// <summary>The CLI contract, run as a user runs it: a separate process, exit codes, stdout JSON, atomic outputs.</summary>
public class CliTests
{
    static readonly string Exe = Path.Combine(AppContext.BaseDirectory, "asitrace.dll");

    internal static (int Code, string Out, string Err) RunWithStdin(string stdin, params string[] args) => RunWith(stdin, null, args);

    internal static (int Code, string Out, string Err) RunWithEnv(IReadOnlyDictionary<string, string> env, params string[] args) => RunWith("", env, args);

    static (int Code, string Out, string Err) RunWith(string stdin, IReadOnlyDictionary<string, string>? env, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.ArgumentList.Add(Exe);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "asitrace did not finish");
        Console.Error.WriteLine($"asitrace {string.Join(' ', args)} -> {p.ExitCode}: {errTask.Result}");
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    internal static (int Code, string Out, string Err) Run(params string[] args) => RunWithStdin("", args);

    [Fact]
    public void StatsJsonHasTheContractShape()
    {
        var (code, stdout, stderr) = Run("stats", "--json", TestPaths.Sample("dd-cat"));
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        Assert.Equal(3117, r.GetProperty("events").GetInt64());
        Assert.Equal(986, r.GetProperty("by_kind").GetProperty("mm_page_alloc").GetInt64());
        Assert.Equal(834, r.GetProperty("by_kind").GetProperty("mm_page_free_batched").GetInt64());
        Assert.Equal(0, r.GetProperty("lost_events").GetInt64());
        Assert.Equal(2, r.GetProperty("cpus").GetInt32());
        Assert.Equal(3013851960000, r.GetProperty("first_ts_ns").GetInt64());
        Assert.Equal(JsonValueKind.Object, r.GetProperty("skipped").ValueKind);
        Assert.Matches(@"3,117 events, [0-9.]+ MB, [0-9.]+ M events/s, [0-9.]+ MB/s", stderr);
    }

    [Fact]
    public void IngestWritesParquetThatStatsReadsBackAndCsvBothWays()
    {
        string dir = TestPaths.TempDir();
        string pq = Path.Combine(dir, "e.parquet"), csv = Path.Combine(dir, "e.csv");
        var (code, stdout, _) = Run("ingest", TestPaths.Sample("anon-shootdown/trace.txt.gz"), "-o", pq, "--json");
        Assert.Equal(0, code);
        Assert.Equal(17445, JsonDocument.Parse(stdout).RootElement.GetProperty("events").GetInt64());
        var (c2, s2, _) = Run("stats", "--json", pq);
        Assert.Equal(0, c2);
        var fromParquet = JsonDocument.Parse(s2).RootElement;
        Assert.Equal(17445, fromParquet.GetProperty("events").GetInt64());
        Assert.Equal("ftrace", fromParquet.GetProperty("format").GetString());
        Assert.Equal(0, Run("ingest", pq, "-o", csv).Code);
        var (c3, s3, _) = Run("stats", "--json", csv);
        Assert.Equal(0, c3);
        Assert.Equal(fromParquet.GetProperty("by_kind").ToString(), JsonDocument.Parse(s3).RootElement.GetProperty("by_kind").ToString());
        Assert.Empty(Directory.GetFiles(dir, ".*tmp*"));
    }

    [Fact]
    public void StdinAndSeveralInputsMerge()
    {
        string text = File.ReadAllText(TestPaths.Sample("perf/kmem.perf.script.txt"));
        var (code, stdout, _) = RunWithStdin(text, "stats", "--json", "-");
        Assert.Equal(0, code);
        Assert.Equal(7101, JsonDocument.Parse(stdout).RootElement.GetProperty("events").GetInt64());
        string pq = Path.Combine(TestPaths.TempDir(), "m.parquet");
        var (c2, s2, _) = Run("ingest", "--json", TestPaths.Sample("dd-cat/trace.txt"), TestPaths.Sample("trace-cmd/v6.report.txt"), "-o", pq);
        Assert.Equal(0, c2);
        Assert.Equal(3117 + 6966, JsonDocument.Parse(s2).RootElement.GetProperty("events").GetInt64());
    }

    [Fact]
    public void GarbageIsInvalidInputAndNothingIsWritten()
    {
        string dir = TestPaths.TempDir();
        string bad = Path.Combine(dir, "bad.bin");
        File.WriteAllBytes(bad, Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        string outPath = Path.Combine(dir, "out.parquet");
        var (code, _, err) = Run("ingest", bad, "-o", outPath);
        Assert.Equal(3, code);
        Assert.Contains(bad, err);
        Assert.Contains("tried:", err);
        Assert.False(File.Exists(outPath));
        Assert.Empty(Directory.GetFiles(dir, ".*tmp*"));
        string badCsv = Path.Combine(dir, "bad.csv");
        File.WriteAllText(badCsv, "time,event\n1,mm_page_alloc\n"); // no ts_ns/kind header
        Assert.Equal(3, Run("stats", badCsv, "--format", "csv").Code);
        // A trace.dat cut short: exit 3 naming the file and the byte offset.
        string cut = Path.Combine(dir, "cut.dat");
        File.WriteAllBytes(cut, File.ReadAllBytes(TestPaths.Sample("trace-cmd/v7-zstd.dat"))[..2000]);
        var (cutCode, _, cutErr) = Run("stats", cut);
        Assert.Equal(3, cutCode);
        Assert.Contains(cut, cutErr);
        Assert.Contains("byte ", cutErr);
    }

    [Fact]
    public void EmptyInputIsAnEmptyResultMissingFileIsIoErrorBadUsageIsTwo()
    {
        string empty = Path.Combine(TestPaths.TempDir(), "empty.txt");
        File.WriteAllText(empty, "");
        var (code, stdout, _) = Run("stats", "--json", empty);
        Assert.Equal(0, code);
        Assert.Equal(0, JsonDocument.Parse(stdout).RootElement.GetProperty("events").GetInt64());
        Assert.Equal(4, Run("stats", "/nonexistent/trace.txt").Code);
        Assert.Equal(2, Run("stats").Code);
        Assert.Equal(2, Run("ingest", empty).Code); // -o is required
        Assert.Equal(2, Run("stats", empty, "--format", "nonsense").Code);
    }
}
