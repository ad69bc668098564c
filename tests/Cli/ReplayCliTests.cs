using System.Text.Json;
using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Cli;

public class ReplayCliTests
{
    // As a user runs it: a separate process (tests run in parallel; redirecting this process's console would race).
    static (int Code, string Out, string Err) Run(params string[] args) => CliTests.Run(args);

    [Theory]
    [InlineData("--knob", "MermapWindowPages=0", "MermapWindowPages")]
    [InlineData("--knob", "MermapSlots=99999999", "MermapSlots")]
    [InlineData("--interval", "99999999999999999999s", "--interval")]
    [InlineData("--interval", "400d", "--interval")]
    [InlineData("--policy", "", "--policy")]
    [InlineData("--policy", ",,,", "--policy")]
    [InlineData("--policy", "noasi,,asi-rfc", "--policy")]
    [InlineData("--policy", "nosuch", "unknown policy 'nosuch'")]
    [InlineData("--cost", "Zero4K=NaN", "--cost 'Zero4K=NaN'")]
    [InlineData("--cost", "Zero4K=-5", "--cost 'Zero4K=-5'")]
    [InlineData("--cost", "Zero4K=Infinity", "--cost 'Zero4K=Infinity'")]
    public void settings_that_would_hang_the_replay_are_usage_errors(string option, string value, string named)
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "results");
        var (code, _, err) = Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, option, value);
        Assert.Equal(2, code);
        Assert.Contains(named, err);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any());
    }

    [Fact]
    public void replay_json_has_the_contract_shape_and_the_results_read_in_duckdb()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "results");
        var (code, stdout, _) = Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(3117, root.GetProperty("events").GetInt64());
        var noasi = root.GetProperty("policies").GetProperty("noasi");
        Assert.True(noasi.GetProperty("estimated_ns").GetDouble() > 0);
        Assert.Equal(986, noasi.GetProperty("metrics").GetProperty("allocations").GetInt64());
        var zl = root.GetProperty("fidelity").GetProperty("mm_page_alloc_zone_locked");
        Assert.Equal(2, zl.GetProperty("trace").GetInt64());
        Assert.Equal(0, root.GetProperty("lost_events").GetInt64());
        Assert.Equal(JsonValueKind.Object, root.GetProperty("anomalies").ValueKind);

        foreach (var f in new[] { "totals.parquet", "fidelity.parquet", "run.json" }) Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.Empty(Directory.GetFiles(outDir, ".*tmp*"));
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT Value FROM read_parquet('{Path.Combine(outDir, "totals.parquet")}') WHERE Policy = 'noasi' AND Metric = 'allocations'";
        Assert.Equal(986.0, Convert.ToDouble(cmd.ExecuteScalar()));
        cmd.CommandText = $"SELECT Trace, Model FROM read_parquet('{Path.Combine(outDir, "fidelity.parquet")}') WHERE \"Check\" = 'free_pages_DMA32'";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal(r.GetDouble(0), r.GetDouble(1));

        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")));
        var input = run.RootElement.GetProperty("inputs")[0];
        Assert.Equal(64, input.GetProperty("sha256").GetString()!.Length);
        Assert.Equal("sapphire-rapids", run.RootElement.GetProperty("options").GetProperty("cpu_model").GetString());
    }

    [Fact]
    public void replay_cost_overrides_change_the_estimate_and_bad_ones_are_usage_errors()
    {
        string a = Path.Combine(TestPaths.TempDir(), "a"), b = Path.Combine(TestPaths.TempDir(), "b");
        var (c1, o1, _) = Run("replay", TestPaths.Sample("dd-cat"), "-o", a, "--json");
        var (c2, o2, _) = Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--json", "--cost", "Zero4K=500");
        Assert.Equal(0, c1); Assert.Equal(0, c2);
        double Zeroing(string json) => JsonDocument.Parse(json).RootElement.GetProperty("policies").GetProperty("noasi").GetProperty("metrics").GetProperty("cost_zeroing_ns").GetDouble();
        Assert.Equal(2 * Zeroing(o1), Zeroing(o2), 6);
        Assert.Equal(2, Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--cost", "NoSuchCost=1").Code);
        // Cycle-based constants follow the preset's clock (Sapphire Rapids 2.0 GHz, Zen 5 2.7 GHz) unless overridden.
        double Tlb(string json) => JsonDocument.Parse(json).RootElement.GetProperty("policies").GetProperty("noasi").GetProperty("metrics").GetProperty("cost_tlb_ns").GetDouble();
        var (c3, o3, _) = Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--json", "--cpu-model", "zen5");
        var (c4, o4, _) = Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--json", "--cpu-model", "zen5", "--cost", "CpuGhz=2.0");
        Assert.Equal(0, c3); Assert.Equal(0, c4);
        Assert.True(Tlb(o3) < Tlb(o1));
        Assert.Equal(Tlb(o1), Tlb(o4), 6);
        Assert.NotEqual(0, Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--cpu-model", "pentium").Code);
        Assert.Equal(2, Run("replay", TestPaths.Sample("dd-cat"), "-o", b, "--policy", "bogus").Code);
        Assert.Equal(2, Run("replay", "-", "-o", b).Code);
    }
}

public class ReplayRequestsTests
{
    [Fact]
    public void trace_placement_keeps_the_traced_pfns_and_skips_what_needs_the_allocator()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "tp");
        var (code, stdout, err) = CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--placement", "trace", "--policy", "noasi,asi-rfc,unmapped", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("unmapped needs --placement model", err);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.False(root.GetProperty("policies").TryGetProperty("unmapped", out _));
        Assert.Empty(root.GetProperty("fidelity").EnumerateObject());
        Assert.Contains(root.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains("--placement trace"));
        // The restricted map is split where the kernel really put the pages.
        Assert.True(root.GetProperty("policies").GetProperty("asi-rfc").GetProperty("metrics").GetProperty("restricted_map_splits_2m").GetInt64() > 0);
        Assert.Equal(2, CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--placement", "trace", "--policy", "unmapped").Code);
    }

    [Fact]
    public void requests_parquet_lists_every_allocation_with_its_class_and_reason()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "r");
        var (code, stdout, _) = CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--requests", "--policy", "noasi", "--json", "--classify", "comm=dd:unmapped");
        Assert.Equal(0, code);
        var m = JsonDocument.Parse(stdout).RootElement.GetProperty("policies").GetProperty("noasi").GetProperty("metrics");
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        string file = Path.Combine(outDir, "requests.parquet");
        cmd.CommandText = $"SELECT count(*), count(*) FILTER (WHERE class = 'sensitive'), count(*) FILTER (WHERE class = 'unmapped' AND reason = 'rule' AND comm = 'dd') FROM read_parquet('{file}')";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal(m.GetProperty("allocations").GetInt64(), Convert.ToInt64(r.GetValue(0)));
        Assert.Equal(m.GetProperty("allocations_sensitive").GetInt64(), Convert.ToInt64(r.GetValue(1)));
        Assert.Equal(m.GetProperty("allocations_unmapped").GetInt64(), Convert.ToInt64(r.GetValue(2)));
        Assert.True(Convert.ToInt64(r.GetValue(2)) > 0);
    }
}

public class CsvCpuCountTests
{
    /// <summary>CSV carries no metadata: a synth trace whose events sit on one of four host CPUs, re-ingested as CSV,
    /// replays as on one CPU unless --cpus gives the count back; with it, the results equal the Parquet file's.</summary>
    [Fact]
    public void csv_replays_like_the_parquet_it_came_from_when_told_the_cpu_count()
    {
        string dir = TestPaths.TempDir();
        string pq = Path.Combine(dir, "fc.parquet"), csv = Path.Combine(dir, "fc.csv");
        Assert.Equal(0, CliTests.Run("synth", "firecracker-populate", "--param", "guest_mib=64", "--param", "host_cpus=4", "-o", pq).Code);
        Assert.Equal(0, CliTests.Run("ingest", pq, "-o", csv).Code);
        double Flushes(params string[] extra)
        {
            var (code, stdout, err) = CliTests.Run(["replay", .. extra, "-o", Path.Combine(dir, "r" + Guid.NewGuid().ToString("N")), "--policy", "secretfree", "--classify", "comm=firecracker:unmapped", "--json"]);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(stdout);
            return doc.RootElement.GetProperty("policies").GetProperty("secretfree").GetProperty("metrics").GetProperty("ipis_sent").GetDouble();
        }
        double fromParquet = Flushes(pq);
        Assert.True(fromParquet > 0);
        Assert.Equal(0, Flushes(csv));                 // one CPU: no shootdown IPIs
        Assert.Equal(fromParquet, Flushes(csv, "--cpus", "4"));
        Assert.Equal(2, CliTests.Run("replay", csv, "-o", Path.Combine(dir, "x"), "--cpus", "0").Code);
    }
}

public class SynthSweepTests
{
    [Fact]
    public void a_sweep_writes_a_csv_and_a_chart_of_each_policy_at_each_value()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "sweep");
        var (code, _, err) = CliTests.Run("synth", "firecracker-populate", "--param", "guest_mib=16", "--sweep", "host_cpus=1,4",
            "--policy", "unmapped,secretfree", "--classify", "comm=firecracker:unmapped", "-o", dir);
        Assert.True(code == 0, err);
        var rows = File.ReadAllLines(Path.Combine(dir, "sweep.csv"));
        Assert.Equal("host_cpus,policy,latency_ns,estimated_ns", rows[0]);
        Assert.Equal(5, rows.Length);
        double Latency(string v, string p) => double.Parse(rows.Single(r => r.StartsWith($"{v},{p},")).Split(',')[2], System.Globalization.CultureInfo.InvariantCulture);
        // Every per-page shootdown reaches every online CPU: the baseline grows with the host, the pooled design does not.
        Assert.True(Latency("4", "secretfree") > Latency("1", "secretfree"));
        Assert.True(Latency("4", "unmapped") < Latency("4", "secretfree"));
        Assert.True(new FileInfo(Path.Combine(dir, "sweep.png")).Length > 1000);
        Assert.Equal(2, CliTests.Run("synth", "firecracker-populate", "--sweep", "host_cpus=0,x", "-o", dir).Code);
    }

    [Fact]
    public void replay_by_call_site_names_the_kernel_functions_that_allocate()
    {
        // A perf record -g capture ingested with its stacks: each event carries its first frame outside the allocator.
        string events = Path.Combine(TestPaths.TempDir(), "stacks.parquet");
        Assert.Equal(0, CliTests.Run("ingest", TestPaths.Sample("perf-g/stacks.perf.data"), "--stacks", TestPaths.Sample("perf-g/stacks.perf.data.txt.gz"), "-o", events).Code);
        string outDir = Path.Combine(TestPaths.TempDir(), "results");
        var (code, stdout, err) = CliTests.Run("replay", events, "-o", outDir, "--policy", "noasi,asi-rfc", "--by", "call_site", "--top", "3", "--requests");
        Assert.True(code == 0, err);
        Assert.Contains("asi-rfc: top 3 by call_site, ordered by extra CPU time over noasi", stdout);
        // Anonymous faults allocate most pages in this capture, and under asi-rfc they pay the most exits (zeroing).
        var asiRfc = stdout[stdout.IndexOf("asi-rfc:", StringComparison.Ordinal)..].Split('\n');
        Assert.StartsWith("do_anonymous_page", asiRfc[2].Trim());
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT count(*), count(call_site), sum(\"estimated_ns_asi-rfc\") > sum(estimated_ns_noasi) FROM read_parquet('{Path.Combine(outDir, "requests.parquet")}')";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal(r.GetInt64(0), r.GetInt64(1));
        Assert.True(r.GetBoolean(2));
        Assert.Equal(2, CliTests.Run("replay", events, "-o", outDir, "--by", "cgroup").Code);
    }
}
