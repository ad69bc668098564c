using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Tests.Ingest;

/// <summary>The positional kmem decoder must give exactly what the key/value decoder gives, line for line.</summary>
public class FastPathTests
{
    [Theory]
    [InlineData("dd-cat/trace.txt")]
    [InlineData("anon-shootdown/trace.txt.gz")]
    public void KmemFastPathEqualsKeyValueDecoder(string sample)
    {
        var table = GfpEras.Table(GfpEras.Latest);
        var fast = new EventTextDecoder(new GfpTextDecoder(table));
        var slow = new EventTextDecoder(new GfpTextDecoder(table)) { FastPaths = false };
        int compared = 0, fastTaken = 0;
        foreach (var line in ReadAll.Lines(TestPaths.Sample(sample)))
        {
            if (!LineTokenizer.TryTokenize(line, TextDialect.Ftrace, out var t)) continue;
            var kind = EventKinds.FromTracepoint(t.Event);
            if (kind is not (EventKind.MmPageAlloc or EventKind.MmPageFree or EventKind.MmPageFreeBatched
                or EventKind.MmPageAllocZoneLocked or EventKind.MmPagePcpuDrain)) continue;
            TraceEvent a = default, b = default;
            bool okA = fast.Decode(kind, t.Text, ref a);
            bool okB = slow.Decode(kind, t.Text, ref b);
            Assert.Equal(okB, okA);
            Assert.True(a.Equals(b), $"fast path differs on: {System.Text.Encoding.UTF8.GetString(line)}");
            compared++;
            TraceEvent probe = default;
            if (KmemFastPath.TryDecode(kind, t.Text, fast.Gfp, ref probe)) fastTaken++;
        }
        Assert.True(compared > 1000, $"only {compared} kmem lines compared");
        // The fast path must actually carry the common case, or the benchmark measures the slow one.
        Assert.True(fastTaken > compared * 9 / 10, $"fast path took {fastTaken} of {compared}");
    }

    [Theory]
    [InlineData("page=0000000000000000 pfn=0x0 order=0 migratetype=0 gfp_flags=GFP_KERNEL", true, false)] // failed allocation
    [InlineData("page=00000000200b2890 pfn=0x1fa419 order=0 migratetype=0 gfp_flags=GFP_KERNEL extra=1", true, true)] // vendor field
    [InlineData("page=ffffea0000c7c200 pfn=204272 order=0 migratetype=0 gfp_flags=GFP_KERNEL", true, true)] // < v5.14 decimal pfn
    [InlineData("page=00000000200b2890 pfn=0x1fa419 order=99 migratetype=0 gfp_flags=GFP_KERNEL", false, false)]
    public void UnusualAllocLinesFallBackToTheKeyValueDecoder(string text, bool decodes, bool hasPfn)
    {
        var dec = new EventTextDecoder(new GfpTextDecoder(GfpEras.Table(GfpEras.Latest)));
        TraceEvent probe = default;
        Assert.False(KmemFastPath.TryDecode(EventKind.MmPageAlloc, System.Text.Encoding.UTF8.GetBytes(text), dec.Gfp, ref probe));
        TraceEvent e = default;
        Assert.Equal(decodes, dec.Decode(EventKind.MmPageAlloc, System.Text.Encoding.UTF8.GetBytes(text), ref e));
        if (decodes) Assert.Equal(hasPfn, e.Has(EventFields.Pfn));
    }
}
