using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Tests.Cli;
using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Fleet;

/// <summary>A small corpus: three recordings of different kinds and one corrupt file.</summary>
public sealed class SmallCorpus
{
    public string Dir { get; }
    public SmallCorpus()
    {
        Dir = Path.Combine(TestPaths.TempDir(), "corpus");
        Directory.CreateDirectory(Dir);
        foreach (var s in new[] { "dd-cat", "anon-shootdown", "corpus/q61-stream-1cpu" }) Copy(TestPaths.Sample(s), Path.Combine(Dir, Path.GetFileName(s)));
        File.WriteAllBytes(Path.Combine(Dir, "corrupt.dat"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 + 11)).ToArray());
    }

    static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string dest = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(f, dest);
        }
    }

    /// <summary>Every file of a fleet's output but the per-run records (timings, logs, the plan): what must not depend on
    /// where or when the traces ran.</summary>
    public static Dictionary<string, byte[]> Results(string outDir) =>
        Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/.fleet/", StringComparison.Ordinal) && Path.GetFileName(f) is not ("fleet.json" or "stderr.txt" or "corpus.parquet"))
            .ToDictionary(f => Path.GetRelativePath(outDir, f), File.ReadAllBytes);

    public static List<(string Trace, string Status, int Exit, string? Error, string Input)> Corpus(string outDir)
    {
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT trace, status, exit_code, error, input FROM read_parquet('{Path.Combine(outDir, "corpus.parquet")}') ORDER BY trace";
        using var r = cmd.ExecuteReader();
        var rows = new List<(string, string, int, string?, string)>();
        while (r.Read()) rows.Add((r.GetString(0), r.GetString(1), r.GetInt32(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4)));
        return rows;
    }
}

public class FleetLocalTests(SmallCorpus corpus) : IClassFixture<SmallCorpus>
{
    [Fact]
    public void a_corpus_runs_in_parallel_with_failures_isolated_and_resumes()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "fleet");
        var (code, _, err) = CliTests.Run("fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi,asi-rfc");
        Assert.True(code == 3, err);   // one trace failed; the others are done
        var rows = SmallCorpus.Corpus(outDir);
        Assert.Equal(4, rows.Count);
        Assert.Equal(3, rows.Count(r => r.Status == "ok"));
        var bad = Assert.Single(rows, r => r.Status == "failed");
        Assert.Equal(3, bad.Exit);
        Assert.Contains("corrupt.dat", bad.Error);
        Assert.Contains("unrecognised format", bad.Error);
        // Nothing of the failed replay is left but its record and log.
        Assert.Equal(["fleet.json", "stderr.txt"], Directory.GetFiles(Path.Combine(outDir, $"trace={bad.Trace}")).Select(Path.GetFileName).Order());
        // Ids are the inputs' hashes: stable wherever the corpus lives.
        foreach (var r in rows) Assert.Equal(AsiTrace.Fleet.FleetCorpus.Hash(r.Input)[..16], r.Trace);
        foreach (var r in rows.Where(r => r.Status == "ok"))
        {
            string dir = Path.Combine(outDir, $"trace={r.Trace}");
            foreach (var f in new[] { "totals.parquet", "attribution.parquet", "report.html", "run.json" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
            using var rec = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "fleet.json")));
            Assert.True(rec.RootElement.GetProperty("peak_rss_bytes").GetInt64() > 10 << 20, "the task's peak memory is measured");
        }

        // Run again: the three done traces are skipped (their results untouched), the failed one is tried again.
        var before = SmallCorpus.Results(outDir);
        var stamps = rows.Where(r => r.Status == "ok").ToDictionary(r => r.Trace, r => File.GetLastWriteTimeUtc(Path.Combine(outDir, $"trace={r.Trace}", "fleet.json")));
        var (code2, _, err2) = CliTests.Run("fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi,asi-rfc");
        Assert.Equal(3, code2);
        Assert.Contains("3 skipped", err2);
        foreach (var (trace, t) in stamps) Assert.Equal(t, File.GetLastWriteTimeUtc(Path.Combine(outDir, $"trace={trace}", "fleet.json")));
        Assert.Equal(before.Keys.Order(), SmallCorpus.Results(outDir).Keys.Order());

        // Other options are other results: nothing is skipped.
        var (code3, _, err3) = CliTests.Run("fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi,asi-rfc", "--cost", "AsiExit=2000");
        Assert.Equal(3, code3);
        Assert.Contains("0 skipped", err3);

        // compare reads a fleet's corpus.parquet: the dearer exit fails a gate on asi-rfc.
        string baseDir = Path.Combine(TestPaths.TempDir(), "base");
        Assert.Equal(3, CliTests.Run("fleet", "run", corpus.Dir, "-o", baseDir, "--policy", "noasi,asi-rfc").Code);
        var (cc, cout, cerr) = CliTests.Run("compare", baseDir, outDir, "--fail-on", "asi-rfc:cost_asi_transitions_ns>+5");
        Assert.True(cc == 1, cout + cerr);
        Assert.Contains("a corpus of 3 traces", cout);

        // docs/fleet.md's query: the trace=<id> directories read as hive partitions, unchanged.
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var q = con.CreateCommand();
        q.CommandText = $"SELECT trace, policy, value / 1e6 AS ms FROM read_parquet('{outDir}/*/totals.parquet', hive_partitioning = true) WHERE metric = 'estimated_ns' ORDER BY trace, policy";
        using var rd = q.ExecuteReader();
        var seen = new List<(string, string)>();
        while (rd.Read()) seen.Add((rd.GetString(0), rd.GetString(1)));
        Assert.Equal(rows.Where(x => x.Status == "ok").SelectMany(x => new[] { (x.Trace, "asi-rfc"), (x.Trace, "noasi") }), seen);
    }
}

/// <summary>
/// <c>fleet run --engine slurm</c> on a real single-node Slurm cluster that the test brings up (munged, slurmctld, slurmd
/// on localhost, as root) and stops: the results equal the local engine's byte for byte.
/// </summary>
public class FleetSlurmTests(SmallCorpus corpus) : IClassFixture<SmallCorpus>
{
    static string? SkipReason()
    {
        if (Environment.UserName != "root") return "needs root to start munged, slurmctld and slurmd";
        foreach (var tool in new[] { "sbatch", "squeue", "sinfo" })
            if (PeerTools.Find(tool) is null) return $"{tool} is not installed (apt-get install slurm-wlm munge; .ci/run installs them)";
        if (!File.Exists("/usr/sbin/slurmctld") || !File.Exists("/usr/sbin/munged")) return "slurmctld or munged is missing (apt-get install slurm-wlm munge)";
        return null;
    }

    public sealed class SlurmFactAttribute : FactAttribute
    {
        public SlurmFactAttribute() { if (SkipReason() is { } why) Skip = why; }
    }

    static int Cluster(string verb, string dir)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "tests", "Fleet", "slurm-cluster.sh"));
        psi.ArgumentList.Add(verb);
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi)!;
        string e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"slurm-cluster.sh {verb}: {e}");
        return p.ExitCode;
    }

    [SlurmFact]
    public void slurm_engine_results_equal_the_local_engines_byte_for_byte()
    {
        string clusterDir = Path.Combine(TestPaths.TempDir(), "slurm");
        Directory.CreateDirectory(clusterDir);
        Cluster("up", clusterDir);
        try
        {
            string slurmOut = Path.Combine(TestPaths.TempDir(), "fleet-slurm"), localOut = Path.Combine(TestPaths.TempDir(), "fleet-local");
            var env = new Dictionary<string, string> { ["SLURM_CONF"] = Path.Combine(clusterDir, "slurm.conf") };
            var (code, _, err) = CliTests.RunWithEnv(env, "fleet", "run", corpus.Dir, "-o", slurmOut, "--policy", "noasi,asi-rfc", "--engine", "slurm", "--poll", "500ms");
            Assert.True(code == 3, err);
            Assert.Contains("slurm: job", err);
            Assert.True(File.Exists(Path.Combine(slurmOut, ".fleet", "job-1.sh")));
            var (lcode, _, lerr) = CliTests.Run("fleet", "run", corpus.Dir, "-o", localOut, "--policy", "noasi,asi-rfc", "--engine", "local");
            Assert.True(lcode == 3, lerr);
            var s = SmallCorpus.Corpus(slurmOut);
            var l = SmallCorpus.Corpus(localOut);
            Assert.Equal(l.Select(r => (r.Trace, r.Status, r.Exit)), s.Select(r => (r.Trace, r.Status, r.Exit)));
            Assert.Equal(3, s.Count(r => r.Status == "ok"));
            var a = SmallCorpus.Results(slurmOut);
            var b = SmallCorpus.Results(localOut);
            Assert.Equal(b.Keys.Order(), a.Keys.Order());
            Assert.True(a.Count > 30, $"only {a.Count} result files");
            foreach (var (name, bytes) in b) Assert.True(bytes.AsSpan().SequenceEqual(a[name]), $"{name} differs between the engines");
            // The Slurm engine is resumable too: a second run submits nothing.
            var (code2, _, err2) = CliTests.RunWithEnv(env, "fleet", "run", corpus.Dir, "-o", slurmOut, "--policy", "noasi,asi-rfc", "--engine", "slurm", "--poll", "500ms");
            Assert.Equal(3, code2);
            Assert.Contains("3 skipped", err2);
            Assert.False(File.Exists(Path.Combine(slurmOut, ".fleet", "job-3.sh")));
        }
        finally { Cluster("down", clusterDir); }
    }
}

/// <summary>
/// The Slurm engine's follow-up, against stand-ins for <c>sbatch</c> and <c>squeue</c> that run the array's tasks here:
/// a task that leaves no result is submitted again with twice the memory, and after the last retry it is recorded as
/// failed. A trace that failed on its input is not resubmitted.
/// </summary>
public class FleetSlurmRetryTests(SmallCorpus corpus) : IClassFixture<SmallCorpus>
{
    static Dictionary<string, string> FakeSlurm(string dir, int lose)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "sbatch"), """
            #!/bin/bash
            # sbatch --parsable SCRIPT: runs the array's tasks one after another; on the first job the task FAKE_LOSE is not
            # run, as if its node had died.
            script=${@: -1}
            array=$(grep -- '--array=' "$script" | sed 's/.*--array=//')
            n=$(( $(cat "$FAKE_STATE/count" 2>/dev/null || echo 0) + 1 )); echo $n > "$FAKE_STATE/count"
            IFS=, read -ra idx <<< "$array"
            for i in "${idx[@]}"; do
              if [ $n = 1 ] && [ "$i" = "$FAKE_LOSE" ]; then continue; fi
              SLURM_ARRAY_TASK_ID=$i bash "$script" >/dev/null 2>&1
            done
            echo "$n;fake"
            """.Replace("\r", ""));
        File.WriteAllText(Path.Combine(dir, "squeue"), "#!/bin/bash\nexit 0\n");
        if (OperatingSystem.IsLinux())
            foreach (var f in new[] { "sbatch", "squeue" }) File.SetUnixFileMode(Path.Combine(dir, f), (UnixFileMode)0b111_101_101);
        return new Dictionary<string, string>
        {
            ["PATH"] = dir + ":" + Environment.GetEnvironmentVariable("PATH"), ["FAKE_STATE"] = dir, ["FAKE_LOSE"] = lose.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    static long Mem(string script) => long.Parse(File.ReadAllLines(script).First(l => l.StartsWith("#SBATCH --mem=", StringComparison.Ordinal))[14..^1], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void a_lost_task_is_submitted_again_with_twice_the_memory()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "fleet");
        // Traces in name order: anon-shootdown, corrupt.dat, dd-cat, q61-stream-1cpu. dd-cat's task is lost once.
        var env = FakeSlurm(Path.Combine(TestPaths.TempDir(), "bin"), lose: 2);
        var (code, _, err) = CliTests.RunWithEnv(env, "fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi", "--engine", "slurm", "--poll", "100ms");
        Assert.True(code == 3, err);
        string fleet = Path.Combine(outDir, ".fleet");
        Assert.Contains("#SBATCH --array=0,1,2,3", File.ReadAllLines(Path.Combine(fleet, "job-1.sh")));
        Assert.Contains("#SBATCH --array=2", File.ReadAllLines(Path.Combine(fleet, "job-2.sh")));
        Assert.Equal(2 * Mem(Path.Combine(fleet, "job-1.sh")), Mem(Path.Combine(fleet, "job-2.sh")), 1.0);
        Assert.False(File.Exists(Path.Combine(fleet, "job-3.sh")));
        var rows = SmallCorpus.Corpus(outDir);
        Assert.Equal(3, rows.Count(r => r.Status == "ok"));
        Assert.Equal(3, Assert.Single(rows, r => r.Status == "failed").Exit);   // the corrupt file: tried once, not resubmitted
    }

    [Fact]
    public void a_task_lost_on_every_attempt_is_recorded_as_failed()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "fleet");
        var env = FakeSlurm(Path.Combine(TestPaths.TempDir(), "bin"), lose: 2);
        var (code, _, err) = CliTests.RunWithEnv(env, "fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi", "--engine", "slurm", "--retries", "0", "--poll", "100ms");
        Assert.True(code == 3, err);
        var lost = Assert.Single(SmallCorpus.Corpus(outDir), r => r.Input.EndsWith("dd-cat", StringComparison.Ordinal));
        Assert.Equal("failed", lost.Status);
        Assert.Equal(70, lost.Exit);
        Assert.Contains("no result after 1 Slurm attempt", lost.Error);
        // The next run picks it up.
        var env2 = FakeSlurm(Path.Combine(TestPaths.TempDir(), "bin2"), lose: -1);
        var (code2, _, err2) = CliTests.RunWithEnv(env2, "fleet", "run", corpus.Dir, "-o", outDir, "--policy", "noasi", "--engine", "slurm", "--poll", "100ms");
        Assert.Equal(3, code2);
        Assert.Contains("3 ok", err2);
    }
}
