using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Csv;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;
using DuckDB.NET.Data;

namespace AsiTrace.Tests.Ingest;

public class ParquetCsvRoundTripTests
{
    static string WriteParquet(List<TraceEvent> events, CommTable comms, TraceMetadata meta, TraceStats stats, int rowGroup)
    {
        string path = Path.Combine(TestPaths.TempDir(), "events.parquet");
        using (var fs = File.Create(path))
        {
            var w = EventsParquetWriter.CreateAsync(fs, rowGroup).GetAwaiter().GetResult();
            w.WriteAsync(events.ToArray(), comms).AsTask().GetAwaiter().GetResult();
            w.CompleteAsync(meta, stats).AsTask().GetAwaiter().GetResult();
            w.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return path;
    }

    static void AssertSame(List<TraceEvent> a, CommTable ca, List<TraceEvent> b, CommTable cb)
    {
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            var x = a[i]; var y = b[i];
            string? commX = x.Has(EventFields.Comm) ? ca[x.CommId] : null, commY = y.Has(EventFields.Comm) ? cb[y.CommId] : null;
            Assert.Equal(commX, commY);
            x.CommId = 0; y.CommId = 0;
            Assert.True(x.Equals(y), $"row {i} differs: {x.Kind} {x.TsNs}");
        }
    }

    [Theory]
    [InlineData("anon-shootdown/trace.txt.gz")]
    [InlineData("trace-cmd/v7-zstd.report.txt")]
    [InlineData("perf/kmem.perf.script.txt")]
    public void ParquetRoundTripIsExact(string sample)
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample(sample));
        events.Add(new TraceEvent { Kind = EventKind.LostEvents, TsNs = events[^1].TsNs, Cpu = 1, Lost = 42, Fields = EventFields.Lost });
        string path = WriteParquet(events, reader.Comms, reader.Metadata, reader.Stats, rowGroup: 4096); // several row groups
        using var back = EventsParquetReader.Open(path);
        var read = ReadAll.Drain(back);
        AssertSame(events, reader.Comms, read, back.Comms);
        Assert.Equal(reader.Metadata.SourceFormat, back.Metadata.SourceFormat);
        Assert.Equal(reader.Stats.Get("events_decoded"), back.Stats.Get("events_decoded"));
        reader.Dispose();
    }

    static int OpenHandlesTo(string path) =>
        Directory.GetFiles("/proc/self/fd").Count(fd => { try { return new FileInfo(fd).LinkTarget == path; } catch (IOException) { return false; } })
        + File.ReadLines("/proc/self/maps").Count(l => l.EndsWith(path, StringComparison.Ordinal));

    [Fact]
    public void AnEventsFileOpenedByPathIsClosedByDispose()
    {
        // The opener maps the file before it knows the format; the Parquet reader must close that mapping too, else a
        // fleet or a fuzz run that opens file after file keeps every one open (found by the afl++ harness).
        var (events, reader) = ReadAll.Path(TestPaths.Sample("anon-shootdown/trace.txt.gz"));
        string path = WriteParquet(events, reader.Comms, reader.Metadata, reader.Stats, rowGroup: 4096);
        reader.Dispose();
        using (var opened = TraceOpener.Open(path, new IngestOptions()))
        {
            Assert.True(OpenHandlesTo(path) > 0);
            Assert.Equal(events.Count, ReadAll.Drain(opened).Count);
        }
        Assert.Equal(0, OpenHandlesTo(path));
        using (var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) f.SetLength(f.Length - 1);
        Assert.Throws<InvalidTraceException>(() => TraceOpener.Open(path, new IngestOptions { Format = InputFormat.EventsParquet }));
        Assert.Equal(0, OpenHandlesTo(path));
    }

    [Fact]
    public async Task BatchedIngestPipelineWritesEveryEventInOrder()
    {
        // The CLI's path: decode + fill row groups on one thread, encode on another, several row groups.
        string sample = TestPaths.Sample("anon-shootdown/trace.txt.gz");
        var (expected, direct) = ReadAll.Path(sample);
        string path = Path.Combine(TestPaths.TempDir(), "batched.parquet");
        var summary = new EventSummary();
        using (var reader = TraceOpener.Open(sample, new IngestOptions()))
        using (var fs = File.Create(path))
        {
            var w = await EventsParquetWriter.CreateAsync(fs, rowGroupSize: 1000);
            EventsPipelines.ToParquet(reader, summary, w);
            await w.CompleteAsync(reader.Metadata, reader.Stats);
            await w.DisposeAsync();
        }
        using var back = EventsParquetReader.Open(path);
        AssertSame(expected, direct.Comms, ReadAll.Drain(back), back.Comms);
        Assert.Equal(expected.Count, summary.Events + summary.ByKind[(int)EventKind.LostEvents]);
        direct.Dispose();
    }

    [Fact]
    public async Task WrittenSchemaIsWhatParquetNetMapsToTheEventsFields()
    {
        // Our writer declares physical/logical types by hand; Parquet.Net must read each column back as exactly the
        // CLR type and nullability of the EventsSchema field the reader asks for.
        var (events, reader) = ReadAll.Path(TestPaths.Sample("dd-cat"));
        string path = WriteParquet(events, reader.Comms, reader.Metadata, reader.Stats, rowGroup: 1000);
        await using var pr = await global::Parquet.ParquetReader.CreateAsync(path);
        var written = pr.Schema.GetDataFields();
        global::Parquet.Schema.DataField[] expected = [EventsSchema.TsNs, EventsSchema.Cpu, EventsSchema.Pid, EventsSchema.Comm, EventsSchema.Kind,
            EventsSchema.Pfn, EventsSchema.Order, EventsSchema.Gfp, EventsSchema.Migratetype, EventsSchema.PercpuRefill, EventsSchema.FallbackOrder,
            EventsSchema.AllocMigratetype, EventsSchema.FallbackMigratetype, EventsSchema.ChangeOwnership, EventsSchema.TlbReason, EventsSchema.TlbPages,
            EventsSchema.PrevPid, EventsSchema.NextPid, EventsSchema.PrevState, EventsSchema.Ino, EventsSchema.Index, EventsSchema.Dev, EventsSchema.Lost,
            EventsSchema.Bytes, EventsSchema.MigratedPages, EventsSchema.MigrateReason, EventsSchema.GfpNames, EventsSchema.MigratetypeName];
        Assert.Equal(expected.Length, written.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Name, written[i].Name);
            Assert.Equal(expected[i].ClrType, written[i].ClrType);
            Assert.Equal(expected[i].IsNullable, written[i].IsNullable);
        }
        reader.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(129)]
    [InlineData(5000)]
    public void TimestampDeltaEncodingSurvivesExtremeValues(int n)
    {
        // ts_ns is written DELTA_BINARY_PACKED: jumps across the whole long range, steps back, repeats.
        var rng = new Random(n);
        long[] special = [long.MinValue, long.MaxValue, 0, -1, 1, long.MaxValue - 1, long.MinValue + 1];
        var events = new List<TraceEvent>();
        long ts = 1_000_000;
        for (int i = 0; i < n; i++)
        {
            ts = (i % 37) switch { 0 => special[rng.Next(special.Length)], 1 => ts, 2 => ts - rng.Next(1000), _ => unchecked(ts + rng.Next(1, 100_000)) };
            events.Add(new TraceEvent { Kind = EventKind.MmPageAlloc, TsNs = ts, Cpu = (ushort)(i % 3), Pid = i, Fields = EventFields.Pid });
        }
        string path = WriteParquet(events, new CommTable(), new TraceMetadata(), new TraceStats(), rowGroup: 1000);
        using var back = EventsParquetReader.Open(path);
        var read = ReadAll.Drain(back);
        Assert.Equal(events.Select(e => e.TsNs), read.Select(e => e.TsNs));
    }

    [Fact]
    public void DuckDbReadsTheFileUnchanged()
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample("dd-cat"));
        string path = WriteParquet(events, reader.Comms, reader.Metadata, reader.Stats, rowGroup: 1000);
        using var con = new DuckDBConnection("DataSource=:memory:");
        con.Open();
        using var cmd = con.CreateCommand();
        cmd.CommandText = $"SELECT count(*), sum(pfn), count(pfn), sum(gfp), count(DISTINCT comm), sum(CASE WHEN kind='tlb_flush' THEN tlb_pages END), min(ts_ns), max(\"order\") FROM read_parquet('{path}')";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal(events.Count, Convert.ToInt64(r.GetValue(0)));
        Assert.Equal(events.Where(e => e.Has(EventFields.Pfn)).Aggregate(System.Numerics.BigInteger.Zero, (s, e) => s + e.Pfn), System.Numerics.BigInteger.Parse(r.GetValue(1).ToString()!));
        Assert.Equal(events.Count(e => e.Has(EventFields.Pfn)), Convert.ToInt64(r.GetValue(2)));
        Assert.Equal(events.Where(e => e.Has(EventFields.Gfp)).Aggregate(System.Numerics.BigInteger.Zero, (s, e) => s + e.Gfp), System.Numerics.BigInteger.Parse(r.GetValue(3).ToString()!));
        Assert.Equal(events.Where(e => e.Has(EventFields.Comm)).Select(e => reader.Comms[e.CommId]).Distinct().Count(), Convert.ToInt64(r.GetValue(4)));
        Assert.Equal(events.Where(e => e.Kind == EventKind.TlbFlush).Sum(e => e.TlbPages), long.Parse(r.GetValue(5).ToString()!));
        Assert.Equal(events.Min(e => e.TsNs), Convert.ToInt64(r.GetValue(6)));
        Assert.Equal(events.Where(e => e.Has(EventFields.Order)).Max(e => e.Order), Convert.ToInt32(r.GetValue(7)));
        using var meta = con.CreateCommand();
        meta.CommandText = $"SELECT value FROM parquet_kv_metadata('{path}') WHERE key = 'asitrace.source_format'";
        var v = meta.ExecuteScalar();
        string? text = v switch
        {
            byte[] b => System.Text.Encoding.UTF8.GetString(b),
            Stream st => new StreamReader(st).ReadToEnd(),
            _ => v?.ToString(),
        };
        Assert.Equal("ftrace", text);
        reader.Dispose();
    }

    [Fact]
    public void CsvRoundTripIsExact()
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample("dd-cat"));
        string path = Path.Combine(TestPaths.TempDir(), "events.csv");
        using (var fs = File.Create(path))
        using (var w = new CsvEventWriter(fs)) w.Write(events.ToArray(), reader.Comms);
        var (back, r2) = ReadAll.Path(path, new IngestOptions());
        Assert.Equal("csv", r2.Metadata.SourceFormat);
        AssertSame(events, reader.Comms, back, r2.Comms);
        reader.Dispose(); r2.Dispose();
    }

    [Fact]
    public void CsvFromAnotherToolWithNamesAndMissingColumns()
    {
        string path = Path.Combine(TestPaths.TempDir(), "bpf.csv");
        File.WriteAllText(path, "kind,ts_ns,cpu,pfn,order,gfp,comm\n" +
            "mm_page_alloc,1000,0,0x1234,0,GFP_KERNEL|__GFP_ZERO,firecracker\n" +
            "mm_page_free,2000,1,4660,0,,\n" +
            "mm_page_free,notanumber,1,4660,0,,\n" +
            "kmalloc,3000,1,,,,\n");
        var (events, r) = ReadAll.Path(path);
        Assert.Equal(2, events.Count);
        Assert.Equal((0x1234UL, 0xdc0UL, "firecracker"), (events[0].Pfn, events[0].Gfp, r.Comms[events[0].CommId]));
        Assert.False(events[1].Has(EventFields.Gfp));
        Assert.Equal(1, r.Stats.Get("malformed_csv_row"));
        Assert.Contains(r.Stats.Diagnostics, d => d.Contains("line 4"));
        r.Dispose();
    }

    [Fact]
    public void PrintFmtTableOfTheTraceMatchesTheBuiltInTable()
    {
        var meta = new TraceMetadata();
        var own = TraceOpener.GfpTableFor(meta, TestPaths.Sample("dd-cat/snapshot-start"));
        Assert.StartsWith("format:", own.Source);
        var builtin = GfpEras.Table("6.18+");
        Assert.Equal(builtin.Entries.Count, own.Entries.Count);
        foreach (var (name, mask) in own.Entries)
            Assert.Equal(builtin.Entries.Single(x => x.Name == name).Mask, mask);
        Assert.Equal(0x1c24caUL, own.Entries.Single(x => x.Name == "GFP_TRANSHUGE").Mask);
    }
}

public class OwnParquetDecoderTests
{
    [Theory]
    [InlineData("churn", 100_000)]
    [InlineData("dd-cat", 1000)]
    [InlineData("perf-g/stacks.perf.data", 777)]
    public async Task our_decoder_reads_our_files_exactly_as_parquet_net_does(string sample, int rowGroup)
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample(sample));
        string path = Path.Combine(TestPaths.TempDir(), "e.parquet");
        await using (var fs = File.Create(path))
        {
            var w = await AsiTrace.Ingest.Parquet.EventsParquetWriter.CreateAsync(fs, rowGroup);
            await w.WriteAsync(events.ToArray(), reader.Comms);
            await w.CompleteAsync(reader.Metadata, reader.Stats);
            await w.DisposeAsync();
        }
        reader.Dispose();
        List<(AsiTrace.Ingest.Canonical.TraceEvent E, string? Comm)> Read(bool own)
        {
            using var r = new AsiTrace.Ingest.Parquet.EventsParquetReader(File.OpenRead(path), path, own);
            var buf = new AsiTrace.Ingest.Canonical.TraceEvent[4096];
            var list = new List<(AsiTrace.Ingest.Canonical.TraceEvent, string?)>();
            int n;
            while ((n = r.Read(buf)) > 0)
                for (int i = 0; i < n; i++)
                {
                    var e = buf[i];
                    string? comm = e.Has(AsiTrace.Ingest.Canonical.EventFields.Comm) ? r.Comms[e.CommId] : null;
                    e.CommId = 0;
                    list.Add((e, comm));
                }
            return list;
        }
        var own = Read(true);
        var net = Read(false);
        Assert.Equal(events.Count, own.Count);
        Assert.Equal(net.Count, own.Count);
        for (int i = 0; i < own.Count; i++)
        {
            Assert.Equal(net[i].Comm, own[i].Comm);
            Assert.True(net[i].E.Equals(own[i].E), $"row {i}: {net[i].E} vs {own[i].E}");
        }
    }

    [Fact]
    public async Task a_projection_skips_the_other_columns_and_keeps_the_asked_ones_exact()
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample("churn"));
        string path = Path.Combine(TestPaths.TempDir(), "p.parquet");
        await using (var fs = File.Create(path))
        {
            var w = await AsiTrace.Ingest.Parquet.EventsParquetWriter.CreateAsync(fs, 50_000);
            await w.WriteAsync(events.ToArray(), reader.Comms);
            await w.CompleteAsync(reader.Metadata, reader.Stats);
            await w.DisposeAsync();
        }
        reader.Dispose();
        const AsiTrace.Ingest.Canonical.EventFields keep = AsiTrace.Ingest.Canonical.EventFields.Pfn | AsiTrace.Ingest.Canonical.EventFields.Order
            | AsiTrace.Ingest.Canonical.EventFields.Migratetype;
        List<AsiTrace.Ingest.Canonical.TraceEvent> Read(bool project)
        {
            using var r = AsiTrace.Ingest.Parquet.EventsParquetReader.Open(path);
            if (project) ((AsiTrace.Ingest.IFieldProjection)r).OnlyFields(keep, comms: false);
            var buf = new AsiTrace.Ingest.Canonical.TraceEvent[3000];
            var list = new List<AsiTrace.Ingest.Canonical.TraceEvent>();
            int n;
            while ((n = r.Read(buf)) > 0) list.AddRange(buf.AsSpan(0, n).ToArray());
            return list;
        }
        var full = Read(false);
        var some = Read(true);
        Assert.Equal(full.Count, some.Count);
        int withPfn = 0, withGfpDropped = 0;
        for (int i = 0; i < full.Count; i++)
        {
            var f = full[i];
            var p = some[i];
            // What was asked for is exact; the rest is absent and zero; time, CPU and kind always come.
            var expected = new AsiTrace.Ingest.Canonical.TraceEvent
            {
                TsNs = f.TsNs, Cpu = f.Cpu, Kind = f.Kind, Fields = f.Fields & keep,
                Pfn = f.Has(AsiTrace.Ingest.Canonical.EventFields.Pfn) ? f.Pfn : 0,
                Order = f.Has(AsiTrace.Ingest.Canonical.EventFields.Order) ? f.Order : (byte)0,
                Migratetype = f.Has(AsiTrace.Ingest.Canonical.EventFields.Migratetype) ? f.Migratetype : (sbyte)0,
            };
            Assert.True(expected.Equals(p), $"row {i}: {p} vs {expected}");
            if (p.Has(AsiTrace.Ingest.Canonical.EventFields.Pfn)) withPfn++;
            if (f.Has(AsiTrace.Ingest.Canonical.EventFields.Gfp)) withGfpDropped++;
        }
        Assert.True(withPfn > 100_000 && withGfpDropped > 100_000, $"{withPfn} rows kept a pfn, {withGfpDropped} lost a gfp");
    }
    /// <summary>Events of one row group each (8 rows), numbered by their timestamps.</summary>
    static List<AsiTrace.Ingest.Canonical.TraceEvent> Numbered(int rows) =>
        Enumerable.Range(0, rows).Select(i => new AsiTrace.Ingest.Canonical.TraceEvent
        {
            Kind = AsiTrace.Ingest.Canonical.EventKind.MmPageFree, TsNs = i, Cpu = (ushort)(i % 3), Pfn = (ulong)(0x1000 + i),
            Fields = AsiTrace.Ingest.Canonical.EventFields.Pfn,
        }).ToList();

    static async Task<string> WriteGroups(List<AsiTrace.Ingest.Canonical.TraceEvent> events, string file)
    {
        string path = Path.Combine(TestPaths.TempDir(), file);
        await using var fs = File.Create(path);
        var w = await AsiTrace.Ingest.Parquet.EventsParquetWriter.CreateAsync(fs, rowGroupSize: 8);
        await w.WriteAsync(events.ToArray(), new AsiTrace.Ingest.Canonical.CommTable());
        await w.CompleteAsync(new AsiTrace.Ingest.Canonical.TraceMetadata(), new AsiTrace.Ingest.Canonical.TraceStats());
        await w.DisposeAsync();
        return path;
    }

    [Fact]
    public async Task a_bad_row_group_decoded_ahead_fails_when_its_rows_are_reached_not_before()
    {
        // The next row group is decoded while the current one is read out; its error must still come in order.
        var events = Numbered(40);
        var bad = events[20]; // row group 2, row 4
        bad.Fields |= AsiTrace.Ingest.Canonical.EventFields.Gfp | AsiTrace.Ingest.Canonical.EventFields.Ino;
        events[20] = bad;
        string path = await WriteGroups(events, "bad-third-group.parquet");
        using var r = new AsiTrace.Ingest.Parquet.EventsParquetReader(File.OpenRead(path), path, true);
        var buf = new AsiTrace.Ingest.Canonical.TraceEvent[4];
        var got = new List<long>();
        var ex = Assert.Throws<AsiTrace.Ingest.Input.InvalidTraceException>(() =>
        {
            int n;
            while ((n = r.Read(buf)) > 0) for (int i = 0; i < n; i++) got.Add(buf[i].TsNs);
        });
        Assert.Contains("row group 2 row 4", ex.Message);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), got);
    }

    [Fact]
    public async Task a_reader_left_mid_file_hands_its_buffers_to_the_next_one_intact()
    {
        var events = Numbered(100);
        string path = await WriteGroups(events, "groups.parquet");
        var buf = new AsiTrace.Ingest.Canonical.TraceEvent[5];
        using (var first = new AsiTrace.Ingest.Parquet.EventsParquetReader(File.OpenRead(path), path, true))
            Assert.Equal(5, first.Read(buf)); // a decode of the second row group is in flight at Dispose
        for (int pass = 0; pass < 2; pass++)
        {
            using var r = new AsiTrace.Ingest.Parquet.EventsParquetReader(File.OpenRead(path), path, true);
            var back = ReadAll.Drain(r);
            Assert.Equal(events.Count, back.Count);
            for (int i = 0; i < events.Count; i++) Assert.True(events[i].Equals(back[i]), $"pass {pass} row {i}");
        }
    }
}
