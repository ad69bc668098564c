using AsiTrace.Ingest;
using AsiTrace.Ingest.Binary;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Formats;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary><c>migrate:mm_migrate_pages</c>: how many pages one migrate_pages() call moved and why — compaction's
/// migration targets are free pages it took off the free lists with no mm_page_alloc.</summary>
public class MigratePagesEventTests
{
    static string Corpus(string rel) => TestPaths.Sample(Path.Combine("corpus", rel));

    [Fact]
    public void tracefs_text_gives_pages_and_reason()
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.txt");
        File.WriteAllText(path, """
# tracer: nop
#
            init-1       [000] .....     6.213362: mm_migrate_pages: nr_succeeded=256 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_SYNC reason=compaction
        kcompactd0-31    [001] .....     7.000000: mm_migrate_pages: nr_succeeded=3 nr_failed=1 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_ASYNC reason=numa_misplaced
""");
        var (events, reader) = ReadAll.Path(path);
        reader.Dispose();
        Assert.Equal([EventKind.MmMigratePages, EventKind.MmMigratePages], events.Select(e => e.Kind));
        Assert.Equal(256, events[0].MigratedPages);
        Assert.Equal(MigrateReasons.Compaction, events[0].MigrateReason);
        Assert.Equal(3, events[1].MigratedPages);
        Assert.Equal("numa_misplaced", MigrateReasons.Name(events[1].MigrateReason));
        Assert.All(events, e => Assert.True(e.Has(EventFields.MigratedPages | EventFields.MigrateReason)));
    }

    [Fact]
    public void a_binary_record_decodes_through_the_kernels_own_format()
    {
        // The 6.1 guest's format: the count is the field `succeeded` (printed as nr_succeeded), the reason an int.
        var format = EventFormat.Parse(File.ReadAllText(Corpus("q61-pressure-2cpu/snapshot-start/migrate.mm_migrate_pages.format")), "migrate");
        var rec = new byte[56];
        BitConverter.TryWriteBytes(rec.AsSpan(0), (ushort)format.Id);
        BitConverter.TryWriteBytes(rec.AsSpan(4), 4242);
        BitConverter.TryWriteBytes(rec.AsSpan(format.Field("succeeded")!.Offset), 512UL);
        BitConverter.TryWriteBytes(rec.AsSpan(format.Field("reason")!.Offset), 0);
        var decoder = new RawEventDecoder(new Dictionary<int, EventFormat> { [format.Id] = format }, false, 8, () => GfpEras.Table(GfpEras.Latest), "test");
        var e = default(TraceEvent);
        Assert.Equal(RawEventDecoder.Result.Ok, decoder.Decode(rec, ref e, out _));
        Assert.Equal(EventKind.MmMigratePages, e.Kind);
        Assert.Equal(512, e.MigratedPages);
        Assert.Equal(MigrateReasons.Compaction, e.MigrateReason);
        Assert.Equal(4242, e.Pid);
        Assert.Equal(RawEventDecoder.Result.Malformed, decoder.Decode(rec.AsSpan(0, 40), ref e, out _));
    }

    [Fact]
    public void the_counts_survive_parquet_and_csv()
    {
        var (events, reader) = ReadAll.Path(Corpus("q61-pressure-2cpu"));
        var migrations = events.Where(e => e.Kind == EventKind.MmMigratePages).ToList();
        Assert.True(migrations.Count > 10);
        long pages = migrations.Sum(e => e.MigratedPages);
        Assert.Equal(6175, pages); // the nr_succeeded of the trace's 39 compaction migrations, summed from the text
        string dir = TestPaths.TempDir();
        foreach (var file in new[] { "e.parquet", "e.csv" })
        {
            string output = Path.Combine(dir, file);
            var (code, _, err) = Cli.CliTests.Run("ingest", Corpus("q61-pressure-2cpu"), "-o", output);
            Assert.True(code == 0, err);
            var (again, r2) = ReadAll.Path(output);
            r2.Dispose();
            var back = again.Where(e => e.Kind == EventKind.MmMigratePages).ToList();
            Assert.Equal(migrations.Select(e => (e.TsNs, e.MigratedPages, e.MigrateReason)), back.Select(e => (e.TsNs, e.MigratedPages, e.MigrateReason)));
        }
        reader.Dispose();
    }
}
