using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Tests.Ingest;

namespace AsiTrace.Tests.Binary;

/// <summary>
/// Event for event against the tools users trust: the binary readers' output equals what our text reader makes of
/// <c>trace-cmd report -t</c> / <c>perf script --ns</c> run on the same file (timestamp, CPU, pid, comm, kind and every
/// kind field: pfn, order, gfp, migratetype, tlb reason and pages, sched and filemap fields).
/// </summary>
public class PeerExactnessTests
{
    public static TheoryData<string> TraceDatSamples => WithExtra(["trace-cmd/v7-zstd.dat", "trace-cmd/v6.dat.gz", "trace-cmd/v7-none.dat.gz", "trace-cmd/lost-extract.dat"], "ASITRACE_EXTRA_TRACE_DAT");

    /// <summary>Samples plus any absolute paths in <paramref name="env"/> (':'-separated), e.g. the large benchmark recordings.</summary>
    static TheoryData<string> WithExtra(string[] samples, string env)
    {
        var d = new TheoryData<string>();
        foreach (var s in samples) d.Add(s);
        foreach (var s in (Environment.GetEnvironmentVariable(env) ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)) d.Add(s);
        return d;
    }

    [RequiresToolTheory("trace-cmd")]
    [MemberData(nameof(TraceDatSamples))]
    public void TraceDatEqualsTraceCmdReport(string sample)
    {
        string file = Materialize(TestPaths.Sample(sample));
        string text = Path.Combine(TestPaths.TempDir(), "report.txt");
        // -N: no plugins. trace-cmd's sched_switch plugin prints states with a pre-4.14 letter table and drops the "+" of a
        // preempted task; without plugins every event is printed from the kernel's own print fmt.
        PeerTools.Run("trace-cmd", text, "report", "-N", "-t", "-i", file);
        AssertSameEvents(text, file, expectedFormatPrefix: "trace-cmd-dat");
    }

    public static TheoryData<string> PerfDataSamples => WithExtra(["perf/kmem.perf.data"], "ASITRACE_EXTRA_PERF_DATA");

    [RequiresToolTheory("perf")]
    [MemberData(nameof(PerfDataSamples))]
    public void PerfDataEqualsPerfScript(string sample)
    {
        string file = Materialize(TestPaths.Sample(sample));
        string text = Path.Combine(TestPaths.TempDir(), "script.txt");
        // --ns: full nanosecond timestamps (the default prints µs). -f with no field list would change the layout.
        PeerTools.Run("perf", text, "script", "--ns", "-i", file);
        AssertSameEvents(text, file, expectedFormatPrefix: "perf-data");
    }

    /// <summary>trace-cmd and perf cannot read a gzip'd file: give them the plain bytes.</summary>
    internal static string Materialize(string path)
    {
        if (!path.EndsWith(".gz", StringComparison.Ordinal)) return path;
        string plain = Path.Combine(TestPaths.TempDir(), Path.GetFileNameWithoutExtension(path));
        using var input = AsiTrace.Ingest.Input.TraceInput.Open(path);
        using var fs = File.Create(plain);
        input.Stream.CopyTo(fs);
        return plain;
    }

    internal static void AssertSameEvents(string peerText, string binary, string expectedFormatPrefix)
    {
        var (want, textReader) = ReadAll.Path(peerText);
        var (got, binReader) = ReadAll.Path(binary);
        Assert.StartsWith(expectedFormatPrefix, binReader.Metadata.SourceFormat);
        Assert.True(want.Count > 500, $"peer output has only {want.Count} events");
        Assert.Equal(0, binReader.Stats.Get("timestamp_regressions"));
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++)
        {
            var w = want[i]; var g = got[i];
            string? wc = w.Has(EventFields.Comm) ? textReader.Comms[w.CommId] : null, gc = g.Has(EventFields.Comm) ? binReader.Comms[g.CommId] : null;
            w.CommId = 0; g.CommId = 0;
            if (!w.Equals(g) || wc != gc)
                Assert.Fail($"event {i} differs:\n peer:   {Describe(w)} comm={wc}\n binary: {Describe(g)} comm={gc}");
        }
        textReader.Dispose();
        binReader.Dispose();
    }

    static string Describe(TraceEvent e) =>
        $"{EventKinds.Name(e.Kind)} ts={e.TsNs} lost={e.Lost} cpu={e.Cpu} pid={e.Pid} fields={e.Fields} pfn={e.Pfn} order={e.Order} gfp=0x{e.Gfp:x} mt={e.Migratetype} " +
        $"refill={e.PercpuRefill} tlb={e.TlbReason}/{e.TlbPages} prev={e.PrevPid}/{e.PrevState} next={e.NextPid} ino={e.Ino} index={e.Index} dev={e.Dev}";
}
