using System.IO.Compression;
using System.Text.RegularExpressions;
using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Tests.Ingest;

/// <summary>Golden tests on the real recordings: per-kind counts equal an independent count of raw lines.</summary>
public class SampleTraceTests
{
    public static TheoryData<string, string> Samples => new()
    {
        { "dd-cat/trace.txt", "ftrace" },
        { "dd-cat", "ftrace" },
        { "anon-shootdown/trace.txt.gz", "ftrace" },
        { "trace-cmd/v6.report.txt", "trace-cmd-report" },
        { "trace-cmd/v7-zstd.report.txt", "trace-cmd-report" },
        { "perf/kmem.perf.script.txt", "perf-script" },
        { "qemu-6.1", "ftrace" }, // Linux 6.1 under qemu: the older kernel's own output
        { "qemu-6.12", "ftrace" },
    };

    static readonly string[] Names =
    [
        "mm_page_alloc", "mm_page_alloc_zone_locked", "mm_page_free", "mm_page_free_batched", "mm_page_pcpu_drain",
        "mm_page_alloc_extfrag", "tlb_flush", "sched_switch", "mm_filemap_add_to_page_cache", "mm_filemap_delete_from_page_cache",
    ];

    static string ReadText(string path)
    {
        if (Directory.Exists(path)) path = File.Exists(Path.Combine(path, "trace.txt")) ? Path.Combine(path, "trace.txt") : Path.Combine(path, "trace.txt.zst");
        if (path.EndsWith(".zst"))
        {
            using var z = new ZstdSharp.DecompressionStream(File.OpenRead(path));
            using var sr = new StreamReader(z);
            return sr.ReadToEnd();
        }
        if (path.EndsWith(".gz"))
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var sr = new StreamReader(gz);
            return sr.ReadToEnd();
        }
        return File.ReadAllText(path);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void PerKindCountsEqualAnIndependentLineCount(string sample, string format)
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample(sample));
        Assert.Equal(format, reader.Metadata.SourceFormat);
        var text = ReadText(TestPaths.Sample(sample));
        foreach (var name in Names)
        {
            // Independent oracle: a regex over raw lines, "<name>:" right after the timestamp column (perf: "sys:<name>:").
            int expected = Regex.Matches(text, $@"^.*\d: +(?:[a-z]+:)?{name}:", RegexOptions.Multiline).Count;
            int actual = events.Count(e => EventKinds.Name(e.Kind) == name);
            Assert.True(expected == actual, $"{sample} {name}: lines {expected}, decoded {actual}");
        }
        int eventLines = text.Split('\n').Count(l => l.Length > 0 && l[0] != '#' && !l.StartsWith("cpus="));
        Assert.Equal(eventLines, events.Count);
        Assert.Equal(0, reader.Stats.Get("malformed_line"));
        Assert.Equal(0, reader.Stats.Get("malformed_fields"));
        // Merged stream is in timestamp order.
        for (int i = 1; i < events.Count; i++) Assert.True(events[i - 1].TsNs <= events[i].TsNs, $"order broken at {i}");
        reader.Dispose();
    }

    [Fact]
    public void FtraceFirstLinesDecodeFieldByField()
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample("dd-cat"));
        // bash-10062 [001] ..... 3013.851960: mm_page_alloc: page=… pfn=0x1fa423 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP
        var e = events[0];
        Assert.Equal(EventKind.MmPageAlloc, e.Kind);
        Assert.Equal(3013_851960_000L, e.TsNs);
        Assert.Equal(1, e.Cpu);
        Assert.Equal(10062, e.Pid);
        Assert.Equal("bash", reader.Comms[e.CommId]);
        Assert.Equal(0x1fa423UL, e.Pfn);
        Assert.Equal(0, e.Order);
        Assert.Equal(0, e.Migratetype);
        Assert.Equal(0x440dc0UL, e.Gfp); // 6.18 kernel value = canonical value
        Assert.Equal(Gfp.Io | Gfp.Fs | Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Account | Gfp.Zero | Gfp.Comp, (Gfp)e.Gfp);
        Assert.Equal("6.18.44-fc-v657", reader.Metadata.KernelRelease);
        Assert.Equal("local", reader.Metadata.Clock);
        Assert.StartsWith("format:", reader.Metadata.GfpTable);
        // bash-10062 [001] d..1. 3013.852005: tlb_flush: pages:-1 reason:local MM shootdown (3)
        var t = events.First(x => x.Kind == EventKind.TlbFlush);
        Assert.Equal(3013_852005_000L, t.TsNs);
        Assert.Equal(-1, t.TlbPages);
        Assert.Equal(3, t.TlbReason);
        // filemap: dev 254:0 → kernel dev_t 254<<20
        var f = events.First(x => x.Kind == EventKind.MmFilemapAddToPageCache);
        Assert.Equal(254u << 20, f.Dev);
        Assert.True(f.Has(EventFields.Ino | EventFields.Index | EventFields.Order | EventFields.Pfn));
        // free_batched has no order field
        var fb = events.First(x => x.Kind == EventKind.MmPageFreeBatched);
        Assert.False(fb.Has(EventFields.Order));
        reader.Dispose();
    }

    [Fact]
    public void TraceCmdAndPerfRenderingsDecodeToTheSameValues()
    {
        var (tc, r1) = ReadAll.Path(TestPaths.Sample("trace-cmd/v6.report.txt"));
        // "trace-cmd-10223 [001] 3021.447534: tlb_flush: pages=1 reason=local mm shootdown (3)"
        var t = tc.First(x => x.Kind == EventKind.TlbFlush);
        Assert.Equal((1L, (byte)3), (t.TlbPages, t.TlbReason));
        Assert.Equal("trace-cmd", r1.Comms[t.CommId]);
        // trace-cmd prints IPI sends with an empty reason: "reason= (4)"
        Assert.Contains(tc, x => x.Kind == EventKind.TlbFlush && x.TlbReason == 4);
        // sched_switch plugin layout "a:1 [120] S ==> b:2 [120]"
        var s = tc.First(x => x.Kind == EventKind.SchedSwitch);
        Assert.True(s.Has(EventFields.PrevPid | EventFields.NextPid | EventFields.PrevState));
        var (pf, r2) = ReadAll.Path(TestPaths.Sample("perf/kmem.perf.script.txt"));
        // "perf 10232 [000] 3021.824731: sched:sched_switch: prev_comm=perf prev_pid=10232 prev_prio=120 prev_state=D ==> next_comm=migration/0 next_pid=18 next_prio=0"
        var ps = pf[0];
        Assert.Equal(EventKind.SchedSwitch, ps.Kind);
        Assert.Equal((10232, 18, 2L), (ps.PrevPid, ps.NextPid, ps.PrevState));
        Assert.Equal("perf", r2.Comms[ps.CommId]);
        var pa = pf.First(x => x.Kind == EventKind.MmPageAlloc);
        Assert.Equal(0x19e7c5UL, pa.Pfn);
        Assert.Equal((ulong)(Gfp.Io | Gfp.Fs | Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Hardwall | Gfp.Highmem | Gfp.Account), pa.Gfp);
        r1.Dispose(); r2.Dispose();
    }
}
