using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Tests.Ingest;

/// <summary>
/// One line per kernel era or tool rendering, in that version's exact format (docs/formats.md §2–§5 and kernel
/// history), decoded field by field. The rule each case pins is named in the test.
/// </summary>
public class KernelDriftTests
{
    static TraceEvent One(string line, TextDialect dialect = TextDialect.Ftrace, string era = GfpEras.Latest)
    {
        var (events, reader) = ReadAll.Text(line + "\n", dialect, era);
        Assert.True(events.Count == 1, $"expected one event from: {line}\nstats: {string.Join(", ", reader.Stats.Diagnostics)}");
        return events[0];
    }

    [Fact] // ≤ v3.2: mm_page_free_direct is today's mm_page_free; 3.x had 4 flag columns, 5-wide pid, decimal pfn, page pointer
    public void V3_2_OldFreeDirectName()
    {
        var e = One("          <idle>-0     [001] d.s2  1573.216474: mm_page_free_direct: page=ffffea0000d2a5c0 pfn=215415 order=0", era: "2.6.33-4.3");
        Assert.Equal(EventKind.MmPageFree, e.Kind);
        Assert.Equal(215415UL, e.Pfn);
        Assert.Equal(1573_216474_000L, e.TsNs);
    }

    [Fact] // ≤ v3.2: mm_pagevec_free is today's mm_page_free_batched; it printed cold=, and order=0 is not a field
    public void V3_2_PagevecFreeWithCold()
    {
        var e = One("            bash-2541  [000] ....   287.114217: mm_pagevec_free: page=ffffea00019d4a40 pfn=424234 order=0 cold=0", era: "2.6.33-4.3");
        Assert.Equal(EventKind.MmPageFreeBatched, e.Kind);
        Assert.Equal(424234UL, e.Pfn);
        Assert.False(e.Has(EventFields.Order));
    }

    [Fact] // ≤ 4.3: GFP_* composites use __GFP_WAIT; the canonical value keeps WAIT as its own bit
    public void Gfp_Pre44_CompositeExpandsThroughEraTable()
    {
        var e = One("            bash-2541  [000] ....   287.114217: mm_page_alloc: page=ffffea00019d4a40 pfn=424234 order=0 migratetype=2 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO", era: "2.6.33-4.3");
        Assert.Equal(Gfp.Wait | Gfp.Io | Gfp.Fs | Gfp.Hardwall | Gfp.Highmem | Gfp.Movable | Gfp.Zero, (Gfp)e.Gfp);
        Assert.Equal(2, e.Migratetype);
    }

    [Fact] // 4.4–4.9: GFP_KERNEL = 0x24000c0 in the kernel; canonical is the same flags as today
    public void Gfp_V44_RawValueMapsThroughEraTable()
    {
        var table = GfpEras.Table("4.4-4.9");
        Assert.Equal((ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs), table.FromKernelValue(0x24000c0));
        Assert.Equal((ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs), GfpEras.Table("4.10-4.14").FromKernelValue(0x14000c0));
        Assert.Equal((ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs), GfpEras.Table("4.15-5.0").FromKernelValue(0x6000c0));
        Assert.Equal((ulong)(Gfp.Wait | Gfp.Io | Gfp.Fs), GfpEras.Table("2.6.33-4.3").FromKernelValue(0xd0));
        Assert.Equal(0xcc0UL, GfpEras.Table("5.1-6.2").FromKernelValue(0xcc0));
    }

    [Fact] // 5.1–6.2: GFP_ATOMIC includes __GFP_ATOMIC; 6.3+ it does not; 6.18 GFP_NOWAIT gained NOWARN
    public void Gfp_AtomicAndNowaitPerEra()
    {
        Assert.True(GfpEras.Table("5.1-6.2").TryName("GFP_ATOMIC", out ulong a51));
        Assert.Equal((ulong)(Gfp.High | Gfp.Atomic | Gfp.KswapdReclaim), a51);
        Assert.True(GfpEras.Table("6.3-6.17").TryName("GFP_ATOMIC", out ulong a63));
        Assert.Equal((ulong)(Gfp.High | Gfp.KswapdReclaim), a63);
        Assert.True(GfpEras.Table("6.3-6.17").TryName("GFP_NOWAIT", out ulong n63));
        Assert.Equal((ulong)Gfp.KswapdReclaim, n63);
        Assert.True(GfpEras.Table("6.18+").TryName("GFP_NOWAIT", out ulong n618));
        Assert.Equal((ulong)(Gfp.KswapdReclaim | Gfp.NoWarn), n618);
        Assert.Equal("4.15-5.0", GfpEras.ForRelease("4.19.0-27-amd64"));
        Assert.Equal("5.1-6.2", GfpEras.ForRelease("6.1.0-28-amd64"));
    }

    [Fact] // 4.1–5.13: decimal pfn; 4.x kernels: 4 flag columns
    public void V4_DecimalPfnFourFlagColumns()
    {
        var e = One("            bash-1234  [002] ....  1234.567890: mm_page_alloc: page=ffffea0001a1b2c0 pfn=428652 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO", era: "4.15-5.0");
        Assert.Equal(428652UL, e.Pfn);
        Assert.Equal((ulong)(Gfp.DirectReclaim | Gfp.KswapdReclaim | Gfp.Io | Gfp.Fs | Gfp.Hardwall | Gfp.Highmem | Gfp.Movable | Gfp.Zero), e.Gfp);
    }

    [Fact] // failed allocation: text pfn=0x0 with a NULL page (6.x), "(null)" padded (old %p)
    public void FailedAllocationHasNoPfn()
    {
        var e = One("     kworker/0:1-17      [000] .....   100.000001: mm_page_alloc: page=0000000000000000 pfn=0x0 order=3 migratetype=0 gfp_flags=GFP_NOWAIT|__GFP_COMP");
        Assert.Equal(EventKind.MmPageAlloc, e.Kind);
        Assert.False(e.Has(EventFields.Pfn));
        Assert.Equal(3, e.Order);
        var old = One("            bash-1234  [002] ....  1234.567890: mm_page_alloc: page=          (null) pfn=0 order=2 migratetype=0 gfp_flags=GFP_KERNEL", era: "2.6.33-4.3");
        Assert.False(old.Has(EventFields.Pfn));
    }

    [Fact] // 3.17–4.2: tlb_flush printed no "(N)": the reason is matched by name, case-insensitively
    public void TlbFlushReasonByNameOnOldKernels()
    {
        var e = One("            bash-1234  [002] d...  1234.567890: tlb_flush: pages:-1 reason:flush on task switch");
        Assert.Equal((0, -1L), (e.TlbReason, e.TlbPages));
        var e2 = One("            bash-1234  [002] d...  1234.567890: tlb_flush: pages:4 reason:local mm shootdown");
        Assert.Equal(3, e2.TlbReason);
    }

    [Fact] // 6.14–6.18 before the Dec 2025 fix: reason 5 has no string and prints as 0x5; after it, capitalised names
    public void TlbFlushReasonNumberWins()
    {
        Assert.Equal(5, One("          <idle>-0       [001] d.h1.  2008.804759: tlb_flush: pages:0 reason:0x5 (5)").TlbReason);
        Assert.Equal(4, One("        workload-15872   [001] d....   567.609709: tlb_flush: pages:8 reason:remote IPI send (4)").TlbReason);
        Assert.Equal(4, One("       workload-15872 [001]   567.609709: tlb_flush:            pages=8 reason= (4)", TextDialect.TraceCmdReport).TlbReason);
    }

    [Fact] // the tracefs "fields" option prints the filemap order in parentheses
    public void FilemapOrderInParentheses()
    {
        var e = One("              dd-1888    [000] ..... 16496.584779: mm_filemap_add_to_page_cache: dev 254:0 ino b36937 pfn=0x4cc080 ofs=0 order=(4)");
        Assert.Equal((EventKind.MmFilemapAddToPageCache, 0x4cc080UL, (byte)4), (e.Kind, e.Pfn, e.Order));
    }

    [Fact] // comms with spaces, dashes, colons and digits: split at the [cpu] column
    public void CommsWithSpacesAndDashes()
    {
        var (events, r) = ReadAll.Text(
            "  .NET TP Worker-12313   [001] .....   418.044428: mm_filemap_add_to_page_cache: dev 254:0 ino 54cd0 pfn=0x18857c ofs=2916352 order=0\n" +
            " memfd:sealed-91-2437    [000] d..2.  1580.745835: sched_switch: prev_comm=memfd:sealed-91 prev_pid=2437 prev_prio=120 prev_state=S ==> next_comm=.NET TP Worker next_pid=12313 next_prio=120\n",
            TextDialect.Ftrace);
        Assert.Equal(2, events.Count);
        Assert.Equal(".NET TP Worker", r.Comms[events[0].CommId]);
        Assert.Equal(12313, events[0].Pid);
        Assert.Equal(0x54cd0UL, events[0].Ino);
        Assert.Equal(2916352UL >> 12, events[0].Index);
        Assert.Equal("memfd:sealed-91", r.Comms[events[1].CommId]);
        Assert.Equal((2437, 12313, 1L), (events[1].PrevPid, events[1].NextPid, events[1].PrevState));
    }

    [Theory] // flag columns of 3 to 6 characters, and none (irq-info=0)
    [InlineData("            bash-1234  [002] d.h  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  [002] d.h1  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  [002] d.h1.  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  [002] dNh1.a  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  [002]    1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  (   1200) [002] .....  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    [InlineData("            bash-1234  (-------) [002] .....  1234.567890: mm_page_free: page=ffffea0001a1b2c0 pfn=428652 order=1")]
    public void FlagColumnWidthsAndTgid(string line)
    {
        var e = One(line);
        Assert.Equal((EventKind.MmPageFree, 428652UL, (byte)1, (ushort)2, 1234), (e.Kind, e.Pfn, e.Order, e.Cpu, e.Pid));
    }

    [Fact] // latency-format=1: comm cut to 8, cpu glued to the flags, time relative in µs with a delay mark
    public void LatencyFormat()
    {
        var (events, r) = ReadAll.Text(
            "# nop latency trace v1.1.5 on 6.18.44-fc\n" +
            "record.s-21828     0..... 10445us+: mm_page_alloc: page=000000009ee3594e pfn=0x118a26 order=0 migratetype=0 gfp_flags=GFP_KERNEL\n" +
            "record.s-21828     1d..2. 10460us : tlb_flush: pages:1 reason:local MM shootdown (3)\n", TextDialect.Latency);
        Assert.Equal(2, events.Count);
        Assert.Equal((10_445_000L, (ushort)0, 21828), (events[0].TsNs, events[0].Cpu, events[0].Pid));
        Assert.Equal("record.s", r.Comms[events[0].CommId]);
        Assert.Equal((ushort)1, events[1].Cpu);
        Assert.Equal("6.18.44-fc", r.Metadata.KernelRelease);
        Assert.Equal("latency-relative-us", r.Metadata.Clock);
    }

    [Fact] // latency-format=1 + verbose=1: the bracketed hex is the ns timestamp
    public void LatencyVerboseFormat()
    {
        var e = One("       record.sh   21828   0 0 00000000 00000000 [77cf6491] 11.254ms (+0.032ms): mm_page_alloc: page=000000009ee3594e pfn=0x118a26 order=0 migratetype=0 gfp_flags=GFP_KERNEL", TextDialect.LatencyVerbose);
        Assert.Equal((0x77cf6491L, 21828, 0x118a26UL), (e.TsNs, e.Pid, e.Pfn));
    }

    [Fact] // options/fields=1: every field as name=0xHEX (DECIMAL); gfp numeric through the table
    public void FieldsOption()
    {
        var e = One("            bash-1234  [002] .....  1234.567890: mm_page_alloc: pfn=0x120600 (1181184) order=0x0 (0) gfp_flags=0x440dc0 (4459968) migratetype=0x0 (0)");
        Assert.Equal((0x120600UL, 0x440dc0UL), (e.Pfn, e.Gfp));
    }

    [Fact] // trace-cmd report -R: raw fields in layout order
    public void TraceCmdRawFields()
    {
        var (events, _) = ReadAll.Text(
            "cpus=2\n" +
            "            bash-2137  [000]  1478.678936: mm_page_alloc:         pfn=0x11426d order=0 gfp_flags=0x440dc0 migratetype=0\n" +
            "            bash-2137  [000]  1478.678937: tlb_flush:             reason=0 pages=-1\n" +
            "            bash-2137  [000]  1478.678938: mm_filemap_add_to_page_cache:  pfn=0x1ad5be i_ino=3c64c index=0x2 s_dev=266338304 order=0\n" +
            "            bash-2137  [000]  1478.678939: sched_switch:          prev_comm=bash prev_pid=2137 prev_prio=120 prev_state=256 next_comm=cat next_pid=2140 next_prio=120\n",
            TextDialect.TraceCmdReport);
        Assert.Equal(4, events.Count);
        Assert.Equal((0x11426dUL, 0x440dc0UL), (events[0].Pfn, events[0].Gfp));
        Assert.Equal((0, -1L), (events[1].TlbReason, events[1].TlbPages));
        Assert.Equal((0x3c64cUL, 2UL, 266338304u), (events[2].Ino, events[2].Index, events[2].Dev));
        Assert.Equal((2137, 2140, 256L), (events[3].PrevPid, events[3].NextPid, events[3].PrevState));
    }

    [Fact] // 6.10–6.13 (and stable kernels without the fix): tools printed raw gfp values; "none" is 0
    public void BareHexGfpAndNone()
    {
        Assert.Equal(0x140ccaUL, One("            perf 21587 [001]   641.049030: kmem:mm_page_alloc: page=0x10c0cc pfn=0x10c0cc order=0 migratetype=1 gfp_flags=0x140cca", TextDialect.PerfScript).Gfp);
        var none = One("            bash-1234  [002] .....  1234.567890: mm_page_alloc: page=000000009ee3594e pfn=0x1 order=0 migratetype=0 gfp_flags=none");
        Assert.True(none.Has(EventFields.Gfp));
        Assert.Equal(0UL, none.Gfp);
    }

    [Fact] // v4.1–5.16 filemap: page= and decimal/hex pfn and ofs, no order
    public void OldFilemapLayout()
    {
        var e = One("              dd-16109   [001] ....   588.174104: mm_filemap_delete_from_page_cache: dev 8:1 ino 3c64c page=ffffea0001a1b2c0 pfn=428652 ofs=8192");
        Assert.Equal((EventKind.MmFilemapDeleteFromPageCache, (8u << 20) | 1u, 2UL, 428652UL), (e.Kind, e.Dev, e.Index, e.Pfn));
        Assert.False(e.Has(EventFields.Order));
    }

    [Fact] // extfrag: raw fields only; "fragmenting" (computed, wrong in trace-cmd) is ignored
    public void ExtfragFields()
    {
        var e = One("       trace-cmd-10223 [001]  3021.447531: mm_page_alloc_extfrag: page=0x1c3600 pfn=0x1c3600 alloc_order=0 fallback_order=10 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 fragmenting=10 change_ownership=1", TextDialect.TraceCmdReport);
        Assert.Equal((0x1c3600UL, (byte)0, (sbyte)10, (sbyte)0, (sbyte)1, (byte)1), (e.Pfn, e.Order, e.FallbackOrder, e.AllocMigratetype, e.FallbackMigratetype, e.ChangeOwnership));
    }

    [Fact] // pre-5.19 zone_locked printed percpu_refill computed; vendor kernels add fields: ignored by name
    public void ZoneLockedAndVendorFields()
    {
        var z = One("            bash-1234  [002] ....  1234.567890: mm_page_alloc_zone_locked: page=ffffea0001a1b2c0 pfn=428652 order=0 migratetype=1 percpu_refill=1");
        Assert.Equal((428652UL, (sbyte)1, (byte)1), (z.Pfn, z.Migratetype, z.PercpuRefill));
        var v = One("            bash-1234  [002] .....  1234.567890: mm_page_alloc: page=000000009ee3594e pfn=0x1234 node=0 order=2 migratetype=0 gfp_flags=GFP_KERNEL callsite=foo_alloc+0x12");
        Assert.Equal((0x1234UL, (byte)2, 0xcc0UL), (v.Pfn, v.Order, v.Gfp));
        var d = One("          <idle>-0       [000] d.s2.  1234.567890: mm_page_pcpu_drain: page=000000009ee3594e pfn=0x1234 order=0 migratetype=2");
        Assert.Equal((EventKind.MmPagePcpuDrain, (sbyte)2), (d.Kind, d.Migratetype));
    }

    [Fact] // loss markers: trace_pipe "CPU:N [LOST M EVENTS]", overwrite "##### CPU N buffer started ####", trace-cmd "[N EVENTS DROPPED]"
    public void LossMarkersBecomeLostEventsRows()
    {
        var (events, r) = ReadAll.Text(
            "##### CPU 0 buffer started ####\n" +
            "            bash-1234  [000] .....  10.000001: mm_page_free: page=0 pfn=0x10 order=0\n" +
            "CPU:1 [LOST 42400 EVENTS]\n" +
            "            bash-1235  [001] .....  10.000002: mm_page_free: page=0 pfn=0x11 order=0\n" +
            "CPU:0 [7 EVENTS DROPPED]\n" +
            "            bash-1234  [000] .....  10.000003: mm_page_free: page=0 pfn=0x12 order=0\n", TextDialect.Ftrace);
        var lost = events.Where(e => e.Kind == EventKind.LostEvents).ToList();
        Assert.Equal(3, lost.Count);
        Assert.Equal((-1L, (ushort)0, 10_000_001_000L), (lost[0].Lost, lost[0].Cpu, lost[0].TsNs));
        Assert.Equal((42400L, (ushort)1), (lost[1].Lost, lost[1].Cpu));
        Assert.Equal((7L, (ushort)0), (lost[2].Lost, lost[2].Cpu));
        Assert.Equal(42407, r.Stats.Get("lost_events"));
    }

    [Fact] // non-ns clocks (counter, x86-tsc) print integers and may touch the bracket (trace-cmd)
    public void NonNanosecondClocks()
    {
        var (events, r) = ReadAll.Text("       trace-cmd-10223 [001]3845862000669: mm_page_free:         page=0x1 pfn=0x1 order=0\n", TextDialect.TraceCmdReport);
        Assert.Single(events);
        Assert.Equal(3845862000669L, events[0].TsNs);
        Assert.False(r.Metadata.TimestampsAreNs);
    }

    [Fact] // perf script: pid/tid form, a dying task's tid -1, swapper
    public void PerfScriptVariants()
    {
        var (events, r) = ReadAll.Text(
            "            perf 21587/21588 [001]   641.049030:   kmem:mm_page_free: page=0x10c0cc pfn=0x10c0cc order=0\n" +
            "             :-1    -1 [001]   641.049031:   kmem:mm_page_free: page=0x10c0cd pfn=0x10c0cd order=0\n" +
            "         swapper     0 [000]   641.049081:        tlb:tlb_flush: pages:0 reason:flush on task switch (0)\n", TextDialect.PerfScript);
        Assert.Equal(3, events.Count);
        Assert.Equal(21588, events[0].Pid);
        Assert.Equal(-1, events[1].Pid);
        Assert.Equal(":-1", r.Comms[events[1].CommId]);
        Assert.Equal("swapper", r.Comms[events[2].CommId]);
    }

    [Fact] // malformed and unknown lines are counted, never dropped silently; a truncated last line is counted
    public void MalformedUnknownAndTruncated()
    {
        var input = AsiTrace.Ingest.Input.TraceInput.FromStream("t", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(
            "            bash-1234  [002] .....  1234.567890: kmalloc: call_site=x ptr=y bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL node=0 accounted=false\n" +
            "            bash-1234  [002] .....  1234.567890: mm_page_alloc: page=x pfn=zz order=0\n" +
            "garbage line\n" +
            "            bash-1234  [002] .....  1234.567891: mm_page_free: page=x pf")));
        using var reader = new TextTraceReader(input, TextDialect.Ftrace, GfpEras.Table(GfpEras.Latest));
        var events = ReadAll.Drain(reader);
        Assert.Empty(events);
        Assert.Equal(1, reader.Stats.OtherEvents.Items.Single(x => x.Name == "kmalloc").Count);
        Assert.Equal(1, reader.Stats.Get("malformed_mm_page_alloc"));
        Assert.Equal(1, reader.Stats.Get("malformed_line"));
        Assert.Equal(1, reader.Stats.Get("truncated_last_line"));
        Assert.Contains(reader.Stats.Diagnostics, d => d.Contains("line 2 (byte "));
    }
}
