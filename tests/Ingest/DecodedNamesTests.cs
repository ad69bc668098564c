using System.Text;
using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary>Events Parquet carries decoded names, so SQL can group by them without this tool: gfp_names as the kernel
/// printed the flags, migratetype_name as /proc/pagetypeinfo names the type.</summary>
public class DecodedNamesTests
{
    [Fact]
    public void duckdb_groups_allocations_by_the_kernels_own_gfp_text()
    {
        string recording = TestPaths.Sample("corpus/q612-smallfiles-1cpu");
        string path = Path.Combine(TestPaths.TempDir(), "events.parquet");
        var (code, _, err) = Cli.CliTests.Run("ingest", recording, "-o", path);
        Assert.True(code == 0, err);
        // The trace's own text: mm_page_alloc lines by their printed gfp_flags and migratetype.
        var expected = new Dictionary<(string, string), long>();
        foreach (var line in ReadAll.Lines(Path.Combine(recording, "trace.txt.zst")))
        {
            string s = Encoding.ASCII.GetString(line);
            if (!s.Contains(" mm_page_alloc: ")) continue;
            string gfp = s[(s.IndexOf("gfp_flags=", StringComparison.Ordinal) + 10)..].Split(' ')[0];
            string mt = s[(s.IndexOf("migratetype=", StringComparison.Ordinal) + 12)..].Split(' ')[0];
            string mtName = mt switch { "0" => "Unmovable", "1" => "Movable", "2" => "Reclaimable", "3" => "HighAtomic", _ => mt };
            expected[(gfp, mtName)] = expected.GetValueOrDefault((gfp, mtName)) + 1;
        }
        Assert.True(expected.Count >= 5);
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT gfp_names, migratetype_name, count(*) FROM read_parquet('{path}') WHERE kind = 'mm_page_alloc' GROUP BY ALL";
        var got = new Dictionary<(string, string), long>();
        using (var r = cmd.ExecuteReader())
            while (r.Read()) got[(r.GetString(0), r.GetString(1))] = Convert.ToInt64(r.GetValue(2));
        Assert.Equal(expected.OrderBy(k => k.Key), got.OrderBy(k => k.Key));
        // And asitrace reads the file as before: the names are for SQL only.
        var (back, reader) = ReadAll.Path(path);
        reader.Dispose();
        Assert.Equal(expected.Values.Sum(), back.Count(e => e.Kind == AsiTrace.Ingest.Canonical.EventKind.MmPageAlloc));
    }
}
