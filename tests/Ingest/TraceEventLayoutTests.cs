using System.Runtime.CompilerServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Csv;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Parquet;

namespace AsiTrace.Tests.Ingest;

/// <summary>
/// TraceEvent stores columns that no kind carries together in the same bytes (64 bytes per event). Every kind's columns
/// must still survive every writer and reader, and a row that sets two columns sharing storage must be refused rather
/// than read back with one of them silently overwritten.
/// </summary>
public class TraceEventLayoutTests
{
    /// <summary>One event of each kind with all the columns that kind carries, at awkward values (negative, all ones).</summary>
    static List<TraceEvent> EveryKind(CommTable comms)
    {
        int comm = comms.Intern("kworker/0:1"u8);
        var common = EventFields.Pid | EventFields.Comm;
        return
        [
            new() { Kind = EventKind.MmPageAlloc, TsNs = 1, Cpu = 3, Pid = 7, CommId = comm, Pfn = 0x12345, Order = 2, Gfp = 0xdc0, Migratetype = 1,
                Fields = common | EventFields.Pfn | EventFields.Order | EventFields.Gfp | EventFields.Migratetype },
            new() { Kind = EventKind.MmPageAllocZoneLocked, TsNs = 2, Cpu = 3, Pfn = 0x12345, Order = 0, Migratetype = 2, PercpuRefill = 1,
                Fields = EventFields.Pfn | EventFields.Order | EventFields.Migratetype | EventFields.PercpuRefill },
            new() { Kind = EventKind.MmPageAllocExtfrag, TsNs = 3, Cpu = 0, Pfn = 0x200, Order = 0, FallbackOrder = -1, AllocMigratetype = 0,
                FallbackMigratetype = -2, ChangeOwnership = 1,
                Fields = EventFields.Pfn | EventFields.Order | EventFields.FallbackOrder | EventFields.AllocMigratetype
                    | EventFields.FallbackMigratetype | EventFields.ChangeOwnership },
            new() { Kind = EventKind.TlbFlush, TsNs = 4, Cpu = 1, Pid = 9, TlbReason = 1, TlbPages = -1,
                Fields = EventFields.Pid | EventFields.TlbReason | EventFields.TlbPages },
            new() { Kind = EventKind.SchedSwitch, TsNs = 5, Cpu = 1, Pid = 9, CommId = comm, PrevPid = 9, NextPid = int.MinValue, PrevState = 0x402,
                Fields = common | EventFields.PrevPid | EventFields.NextPid | EventFields.PrevState },
            new() { Kind = EventKind.MmFilemapAddToPageCache, TsNs = 6, Cpu = 2, Pfn = 0x777, Order = 0, Ino = ulong.MaxValue >> 1, Index = 41,
                Dev = (8u << 20) | 1, Fields = EventFields.Pfn | EventFields.Order | EventFields.Ino | EventFields.Index | EventFields.Dev },
            new() { Kind = EventKind.SysRead, TsNs = 7, Cpu = 2, Pid = 11, Bytes = long.MaxValue, Fields = EventFields.Pid | EventFields.Bytes },
            new() { Kind = EventKind.LostEvents, TsNs = 8, Cpu = 0, Lost = -1, Fields = EventFields.Lost },
        ];
    }

    static string WriteParquet(List<TraceEvent> events, CommTable comms)
    {
        string path = Path.Combine(TestPaths.TempDir(), "layout.parquet");
        using var fs = File.Create(path);
        var w = EventsParquetWriter.CreateAsync(fs).GetAwaiter().GetResult();
        w.WriteAsync(events.ToArray(), comms).AsTask().GetAwaiter().GetResult();
        w.CompleteAsync(new TraceMetadata(), new TraceStats()).AsTask().GetAwaiter().GetResult();
        w.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return path;
    }

    static List<TraceEvent> ReadParquet(string path, bool ownDecoder)
    {
        using var r = new EventsParquetReader(File.OpenRead(path), path, ownDecoder);
        return ReadAll.Drain(r);
    }

    /// <summary>Same events row by row; comm ids are the readers' own numbering, so they are left out.</summary>
    static void AssertSameIgnoringCommIds(List<TraceEvent> expected, List<TraceEvent> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var a = expected[i]; var b = actual[i];
            a.CommId = b.CommId = 0;
            Assert.True(a.Equals(b), $"{a.Kind} differs");
        }
    }

    [Fact]
    public void an_event_is_one_cache_line() => Assert.Equal(64, Unsafe.SizeOf<TraceEvent>());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void every_kinds_columns_survive_parquet(bool ownDecoder)
    {
        var comms = new CommTable();
        var events = EveryKind(comms);
        var back = ReadParquet(WriteParquet(events, comms), ownDecoder);
        AssertSameIgnoringCommIds(events, back);
        Assert.Equal(-1, back[3].TlbPages);
        Assert.Equal((9, int.MinValue, 0x402L), (back[4].PrevPid, back[4].NextPid, back[4].PrevState));
        Assert.Equal(((sbyte)-1, (sbyte)-2, (byte)1), (back[2].FallbackOrder, back[2].FallbackMigratetype, back[2].ChangeOwnership));
    }

    [Fact]
    public void every_kinds_columns_survive_csv()
    {
        var comms = new CommTable();
        var events = EveryKind(comms);
        string path = Path.Combine(TestPaths.TempDir(), "layout.csv");
        using (var fs = File.Create(path))
        using (var w = new CsvEventWriter(fs)) w.Write(events.ToArray(), comms);
        var (back, r) = ReadAll.Path(path);
        AssertSameIgnoringCommIds(events, back);
        r.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void a_parquet_row_setting_two_columns_that_share_storage_is_refused(bool ownDecoder)
    {
        var comms = new CommTable();
        var events = EveryKind(comms);
        // The writer writes every flagged column: gfp and ino both come out (with the same bytes).
        var bad = events[0];
        bad.Fields |= EventFields.Ino;
        events.Insert(1, bad);
        string path = WriteParquet(events, comms);
        var ex = Assert.Throws<InvalidTraceException>(() => ReadParquet(path, ownDecoder));
        Assert.Contains("gfp and ino", ex.Message);
        Assert.Contains("row 1", ex.Message);
    }

    [Fact]
    public void a_csv_row_setting_two_columns_that_share_storage_is_a_bad_row()
    {
        string path = Path.Combine(TestPaths.TempDir(), "clash.csv");
        File.WriteAllText(path, "kind,ts_ns,cpu,pfn,order,gfp,ino,next_pid,fallback_order\n" +
            "mm_page_alloc,1000,0,4660,0,0xdc0,,,\n" +
            "mm_page_alloc,2000,0,4661,0,0xdc0,77,,\n" +
            "mm_page_alloc_extfrag,3000,0,4662,0,,,5,-1\n" +
            "mm_page_free,4000,0,4660,0,,,,\n");
        var (events, r) = ReadAll.Path(path);
        Assert.Equal([1000L, 4000L], events.Select(e => e.TsNs));
        Assert.Equal(0xdc0UL, events[0].Gfp);
        Assert.Equal(2, r.Stats.Get("malformed_csv_row"));
        r.Dispose();
    }

    [Fact]
    public void the_columns_of_each_traced_kind_fit_and_clashes_are_named()
    {
        foreach (var e in EveryKind(new CommTable())) { Assert.False(TraceEvent.ColumnsClash(e.Fields)); Assert.Null(TraceEvent.SharedColumnsClash(e.Fields)); }
        Assert.Equal("gfp and ino", TraceEvent.SharedColumnsClash(EventFields.Pfn | EventFields.Gfp | EventFields.Ino));
        Assert.Equal("prev_pid and dev", TraceEvent.SharedColumnsClash(EventFields.Dev | EventFields.PrevPid));
        Assert.Equal("fallback_order and next_pid", TraceEvent.SharedColumnsClash(EventFields.FallbackOrder | EventFields.NextPid));
        Assert.Equal("tlb_pages and lost", TraceEvent.SharedColumnsClash(EventFields.TlbPages | EventFields.Lost));
    }
}
