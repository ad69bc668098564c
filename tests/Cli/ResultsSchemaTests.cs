using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Cli;

/// <summary>The results Parquet files as engines see them: the CSV's column names, required keys, integer counts.</summary>
public class ResultsSchemaTests
{
    [Fact]
    public void results_parquet_names_columns_as_the_csv_with_required_keys_and_integer_counts()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "results");
        Assert.Equal(0, CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--policy", "noasi,asi-rfc").Code);
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        foreach (var (file, columns) in new[] { ("totals", "policy metric value count"), ("series", "policy ts_ns metric value count"),
                     ("attribution", "policy by key metric value count") })
        {
            cmd.CommandText = $"SELECT name, type, repetition_type FROM parquet_schema('{Path.Combine(outDir, file + ".parquet")}') WHERE type IS NOT NULL";
            var schema = new List<(string Name, string Type, string Rep)>();
            using (var r = cmd.ExecuteReader()) while (r.Read()) schema.Add((r.GetString(0), r.GetString(1), r.GetString(2)));
            Assert.Equal(columns.Split(' '), schema.Select(c => c.Name));
            foreach (var key in new[] { "policy", "metric", "by", "key" }.Where(k => schema.Any(c => c.Name == k)))
                Assert.Equal("REQUIRED", schema.Single(c => c.Name == key).Rep);
            Assert.Equal("INT64", schema.Single(c => c.Name == "count").Type);
        }
        // Counts are integers equal to the value; times have none.
        cmd.CommandText = $"SELECT count(*) FILTER (WHERE metric = 'allocations' AND count = value), count(*) FILTER (WHERE suffix(metric, '_ns') AND count IS NOT NULL), count(*) FILTER (WHERE metric = 'asi_exits' AND count IS NULL) FROM read_parquet('{Path.Combine(outDir, "totals.parquet")}')";
        using var c2 = cmd.ExecuteReader();
        Assert.True(c2.Read());
        Assert.Equal(2L, Convert.ToInt64(c2.GetValue(0)));
        Assert.Equal(0L, Convert.ToInt64(c2.GetValue(1)));
        Assert.Equal(0L, Convert.ToInt64(c2.GetValue(2)));
    }
}
