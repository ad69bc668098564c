using System.Text.Json;
using AsiTrace.Tests.Cli;
using Xunit;

namespace AsiTrace.Tests.Report;

/// <summary><c>asitrace sql</c> as a user runs it: real queries over an ingested events file and replay results.</summary>
public class SqlTests
{
    static string Ingest(string sample)
    {
        string events = Path.Combine(TestPaths.TempDir(), "events.parquet");
        Assert.Equal(0, CliTests.Run("ingest", TestPaths.Sample(sample), "-o", events).Code);
        return events;
    }

    [Fact]
    public void a_group_by_over_events_matches_stats()
    {
        string events = Ingest("churn");
        var (code, stats, _) = CliTests.Run("stats", events, "--json");
        Assert.Equal(0, code);
        var byKind = JsonDocument.Parse(stats).RootElement.GetProperty("by_kind");
        var (sqlCode, json, err) = CliTests.Run("sql", "SELECT kind, count(*) AS n, count(DISTINCT cpu) AS cpus FROM events GROUP BY kind ORDER BY kind", events, "--format", "json");
        Assert.True(sqlCode == 0, err);
        var rows = JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        Assert.Equal(byKind.EnumerateObject().Count(), rows.Count);
        foreach (var row in rows)
            Assert.Equal(byKind.GetProperty(row.GetProperty("kind").GetString()!).GetInt64(), row.GetProperty("n").GetInt64());
        Assert.True(rows.Count >= 5, "churn has allocations, frees, page-cache, TLB and scheduler events");
    }

    [Fact]
    public void totals_of_two_runs_join_and_formats_agree()
    {
        string root = TestPaths.TempDir();
        // Two runs side by side as hive partitions: run=a/ and run=b/ become a column of the totals view.
        Assert.Equal(0, CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", Path.Combine(root, "run=a"), "--policy", "noasi,asi-rfc").Code);
        Assert.Equal(0, CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", Path.Combine(root, "run=b"), "--policy", "noasi,asi-rfc", "--cost", "AsiExit=2000").Code);
        const string join = """
            SELECT a.policy, a.value AS a_ns, b.value AS b_ns
            FROM totals a JOIN totals b ON a.policy = b.policy AND a.metric = b.metric
            WHERE a.run = 'a' AND b.run = 'b' AND a.metric = 'estimated_ns' ORDER BY a.policy
            """;
        var (code, csv, err) = CliTests.Run("sql", join, root, "--format", "csv");
        Assert.True(code == 0, err);
        var lines = csv.Trim().Split('\n').Select(l => l.Trim().Split(',')).ToList();
        Assert.Equal(["policy", "a_ns", "b_ns"], lines[0]);
        Assert.Equal(3, lines.Count);
        var byPolicy = lines.Skip(1).ToDictionary(l => l[0], l => (A: double.Parse(l[1], System.Globalization.CultureInfo.InvariantCulture), B: double.Parse(l[2], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(byPolicy["noasi"].A, byPolicy["noasi"].B);        // no exits under noasi: the exit cost does not matter
        Assert.True(byPolicy["asi-rfc"].B > byPolicy["asi-rfc"].A);    // a dearer asi_exit costs asi-rfc more
        // A glob picks files by pattern: one run's totals only.
        var (gcode, gout, gerr) = CliTests.Run("sql", "SELECT count(DISTINCT run) AS runs, count(*) AS n FROM totals", Path.Combine(root, "run=a", "*.parquet"), "--format", "csv");
        Assert.True(gcode == 0, gerr);
        var g = gout.Trim().Split('\n')[1].Trim().Split(',');
        Assert.Equal("1", g[0]);
        Assert.True(long.Parse(g[1], System.Globalization.CultureInfo.InvariantCulture) > 50);
        // The same query as a table on the terminal: aligned columns and a row count.
        var (tcode, table, _) = CliTests.Run("sql", join, root);
        Assert.Equal(0, tcode);
        var tl = table.Split('\n');
        Assert.StartsWith("policy", tl[0]);
        Assert.Contains("(2 rows)", table);
        // Numbers are right-aligned under their header: every data row is as wide as the rule under the header.
        Assert.Equal(tl[1].TrimEnd().Length, tl[2].TrimEnd().Length);
    }

    [Fact]
    public void a_wrong_query_is_a_usage_error_with_duckdbs_message()
    {
        string events = Ingest("dd-cat");
        var (code, _, err) = CliTests.Run("sql", "SELECT nosuchcolumn FROM events", events);
        Assert.Equal(2, code);
        Assert.Contains("nosuchcolumn", err);
        Assert.Contains("Binder Error", err);
        var (code2, _, err2) = CliTests.Run("sql", "SELEC 1", events);
        Assert.Equal(2, code2);
        Assert.Contains("Parser Error", err2);
        Assert.Equal(4, CliTests.Run("sql", "SELECT 1", Path.Combine(TestPaths.TempDir(), "missing")).Code);
    }

    [Fact]
    public void a_corrupt_parquet_file_is_invalid_input()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllBytes(Path.Combine(dir, "totals.parquet"), [(byte)'P', (byte)'A', (byte)'R', (byte)'1', 1, 2, 3, 4, 5, (byte)'P', (byte)'A', (byte)'R', (byte)'1']);
        var (code, _, err) = CliTests.Run("sql", "SELECT * FROM totals", dir);
        Assert.Equal(3, code);
        Assert.Contains("totals.parquet", err);
    }
}
