using AsiTrace.Tests.Cli;
using DuckDB.NET.Data;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary>Events Parquet stores min/max statistics of its integer columns per row group, so an engine can skip row
/// groups (a time window, a pid) without reading them.</summary>
public class ParquetStatisticsTests
{
    [Fact]
    public void integer_columns_carry_each_row_groups_min_and_max()
    {
        string events = Path.Combine(TestPaths.TempDir(), "e.parquet");
        Assert.Equal(0, CliTests.Run("ingest", TestPaths.Sample("churn"), "-o", events).Code);
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        // Statistics against the data itself, per row group (churn's 368 k events make two groups of 256 Ki rows).
        string Col(string c) => $"SELECT rg, '{c}' AS col, min({c})::VARCHAR AS lo, max({c})::VARCHAR AS hi, count(*) - count({c}) AS nulls FROM d GROUP BY rg";
        cmd.CommandText = $"""
            WITH d AS (SELECT (row_number() OVER () - 1) // 262144 AS rg, ts_ns, cpu, pid, pfn, gfp FROM read_parquet('{events}')),
                 actual AS ({Col("ts_ns")} UNION ALL {Col("cpu")} UNION ALL {Col("pid")} UNION ALL {Col("pfn")} UNION ALL {Col("gfp")})
            SELECT m.row_group_id, m.path_in_schema, m.stats_min_value, m.stats_max_value, m.stats_null_count, a.lo, a.hi, a.nulls
            FROM parquet_metadata('{events}') m JOIN actual a ON a.rg = m.row_group_id AND a.col = m.path_in_schema
            ORDER BY 1, 2
            """;
        using var r = cmd.ExecuteReader();
        int rows = 0;
        while (r.Read())
        {
            rows++;
            string where = $"row group {r.GetValue(0)} {r.GetString(1)}";
            Assert.False(r.IsDBNull(2), where + ": no min");
            Assert.Equal(r.GetString(5), r.GetString(2));
            Assert.Equal(r.GetString(6), r.GetString(3));
            Assert.Equal(Convert.ToInt64(r.GetValue(7)), Convert.ToInt64(r.GetValue(4)));
        }
        Assert.Equal(2 * 5, rows);
    }
}
