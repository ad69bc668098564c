using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Parquet;
using DuckDB.NET.Data;

namespace AsiTrace.Tests.Hostile;

/// <summary>Events Parquet files that this tool did not write, or wrote and someone changed: every one is refused as
/// invalid input naming the file and the part (footer, schema, key-value metadata, row group), never an unhandled
/// exception or an allocation sized by a hostile field.</summary>
public class HostileParquetTests
{
    /// <summary>A minimal events file (ts_ns, cpu, kind) with the given key-value metadata, written by DuckDB.</summary>
    static string WithMetadata(Dictionary<string, string> meta)
    {
        var path = Path.Combine(TestPaths.TempDir(), "m.parquet");
        string kv = string.Join(", ", meta.Select(kv => $"'{kv.Key}': '{kv.Value.Replace("'", "''")}'"));
        Copy(path, "", meta.Count == 0 ? "" : $", KV_METADATA {{{kv}}}");
        return path;
    }

    /// <summary>One event with the events columns plus <paramref name="extra"/> columns.</summary>
    static void Copy(string path, string extra, string options = "")
    {
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"COPY (SELECT 1::BIGINT AS ts_ns, 0::USMALLINT AS cpu, 'mm_page_alloc' AS kind{extra}) TO '{path}' (FORMAT parquet{options})";
        cmd.ExecuteNonQuery();
    }

    static void CopySelect(string path, string select)
    {
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"COPY (SELECT {select}) TO '{path}' (FORMAT parquet)";
        cmd.ExecuteNonQuery();
    }

    static InvalidTraceException Refused(string path) =>
        Assert.Throws<InvalidTraceException>(() => { using var r = EventsParquetReader.Open(path); var buf = new AsiTrace.Ingest.Canonical.TraceEvent[16]; while (r.Read(buf) > 0) { } });

    [Fact]
    public void OwnMetadataReads()
    {
        var path = WithMetadata(new() { [EventsSchema.KeyCpus] = "2", [EventsSchema.KeyNotes] = "[\"x\"]" });
        using var r = EventsParquetReader.Open(path);
        Assert.Equal(2, r.Metadata.CpuCount);
        var buf = new AsiTrace.Ingest.Canonical.TraceEvent[4];
        Assert.Equal(1, r.Read(buf));
    }

    [Theory]
    [InlineData(EventsSchema.KeyCounters, "{not json")]
    [InlineData(EventsSchema.KeyCounters, "[1,2]")]
    [InlineData(EventsSchema.KeyCounters, "{\"lost\": {\"severity\": \"info\"}}")]
    [InlineData(EventsSchema.KeyCounters, "{\"lost\": {\"severity\": 3, \"value\": 1}}")]
    [InlineData(EventsSchema.KeyCounters, "{\"lost\": {\"severity\": \"info\", \"value\": \"many\"}}")]
    [InlineData(EventsSchema.KeyOtherEvents, "{\"a\": 1.5}")]
    [InlineData(EventsSchema.KeyInputs, "{\"a\": 1}")]
    [InlineData(EventsSchema.KeyInputs, "[1]")]
    [InlineData(EventsSchema.KeyNotes, "\"just a string\"")]
    public void MetadataThatIsNotOursIsRefusedNamingTheKey(string key, string json)
    {
        var e = Refused(WithMetadata(new() { [key] = json }));
        Assert.Equal("key-value metadata", e.Where);
        Assert.Contains(key, e.Message);
    }

    [Theory]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0xFFFFFFFFu)]
    public void AHugeFooterLengthIsRefusedBeforeAllocating(uint footer)
    {
        var path = WithMetadata(new());
        var bytes = File.ReadAllBytes(path);
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 8, 4), footer);
        File.WriteAllBytes(path, bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(path);
        Assert.Contains("footer length", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    /// <summary>Column types written by another tool (DuckDB) that the events schema does not have.</summary>
    [Theory]
    [InlineData("map([1, 2], ['a', 'b'])")]
    [InlineData("INTERVAL 3 DAY")]
    [InlineData("union_value(n := 1)")]
    [InlineData("[[1, 2], [3]]")]
    [InlineData("{'a': {'b': [1]}}")]
    [InlineData("1.5::FLOAT")]
    public void ForeignColumnTypesAreRefusedOrIgnored(string expr)
    {
        var path = Path.Combine(TestPaths.TempDir(), "f.parquet");
        Copy(path, $", {expr} AS x");
        try
        {
            using var r = EventsParquetReader.Open(path);
            var buf = new AsiTrace.Ingest.Canonical.TraceEvent[4];
            Assert.Equal(1, r.Read(buf));
        }
        catch (InvalidTraceException e) { Assert.Contains(path, e.Message); }
    }

    [Fact]
    public void AnEventsFileRewrittenByDuckDbReadsTheSame()
    {
        // DuckDB writes every column optional; the reader reads through the file's own fields.
        var path = Path.Combine(TestPaths.TempDir(), "o.parquet");
        var src = Path.Combine(TestPaths.TempDir(), "e.parquet");
        var (code, _, err) = Cli.CliTests.Run("ingest", TestPaths.Sample("dd-cat/trace.txt"), "-o", src);
        Assert.True(code == 0, err);
        CopySelect(path, $"* FROM '{src}'");
        var (c1, a, _) = Cli.CliTests.Run("stats", "--json", src);
        var (c2, b, _) = Cli.CliTests.Run("stats", "--json", path);
        Assert.Equal(0, c1); Assert.Equal(0, c2);
        static string Kinds(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("by_kind").GetRawText();
        Assert.Equal(Kinds(a), Kinds(b));
        // A null in a column every event has is refused, naming the row.
        var nulls = Path.Combine(TestPaths.TempDir(), "n.parquet");
        CopySelect(nulls, $"CASE WHEN ts_ns % 2 = 0 THEN NULL ELSE ts_ns END AS ts_ns, cpu, kind FROM '{src}'");
        Assert.Contains("is null", Refused(nulls).Message);
    }

    [Fact]
    public void ColumnsOfTheWrongTypeAreRefused()
    {
        var path = Path.Combine(TestPaths.TempDir(), "w.parquet");
        CopySelect(path, "'yesterday' AS ts_ns, 0.5 AS cpu, 42 AS kind");
        Refused(path);
    }
}
