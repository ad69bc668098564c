using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Ingest.Record;
using AsiTrace.Tests.Cli;

namespace AsiTrace.Tests.Record;

/// <summary>A fact that records with tracefs: skipped, with the reason, where the process is not root or tracefs is absent.</summary>
public sealed class RequiresTracefsFactAttribute : FactAttribute
{
    public RequiresTracefsFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "recording needs root (CI runs as root)";
        else if (TracefsRecorder.FindTracefs() is null) Skip = "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)";
    }
}

/// <summary>Tests that record through tracefs: one collection, so that they never run at the same time (tracefs is one
/// per machine, and each test checks it finds tracefs as it left it).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TracefsCollection
{
    public const string Name = "tracefs";
}

/// <summary>asitrace record on this machine. Recordings share tracefs, so they run one at a time (<see cref="TracefsCollection"/>).</summary>
[Collection(TracefsCollection.Name)]
public class RecordTests
{
    static readonly string T = TracefsRecorder.FindTracefs() ?? "/sys/kernel/tracing";

    static void AssertSame(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        foreach (var (k, v) in before)
            Assert.True(after.TryGetValue(k, out var a) && a == v, $"{k}: before '{v.Trim()}', after '{after.GetValueOrDefault(k)?.Trim()}'");
        Assert.Equal(before.Count, after.Count);
    }

    /// <summary>Every tracefs file a recording may touch, with its content.</summary>
    static Dictionary<string, string> TracefsState()
    {
        var files = new List<string> { "tracing_on", "buffer_size_kb", "saved_cmdlines_size", "current_tracer", "trace_clock" };
        foreach (var ev in TracefsRecorder.DefaultEvents) files.Add($"events/{ev}/enable");
        var state = new Dictionary<string, string>();
        foreach (var f in files)
        {
            string p = Path.Combine(T, f);
            if (File.Exists(p)) state[f] = File.ReadAllText(p);
        }
        // The buffer is cleared afterwards: nothing of ours is left in it.
        state["trace entries"] = File.ReadAllLines(Path.Combine(T, "trace")).Count(l => !l.StartsWith('#')).ToString();
        return state;
    }

    [RequiresTracefsFact]
    public void record_a_workload_then_ingest_it_and_find_tracefs_exactly_as_it_was()
    {
        var before = TracefsState();
        string dir = Path.Combine(TestPaths.TempDir(), "rec");
        var (code, _, err) = CliTests.Run("record", "-o", dir, "--buffer-kb", "4096", "--events", "+kmem/no_such_event",
            "--", "sh", "-c", "dd if=/dev/zero of=" + Path.Combine(TestPaths.TempDir(), "f") + " bs=64k count=64 conv=fsync status=none");
        Assert.True(code == 0, err);
        AssertSame(before, TracefsState());
        Assert.Contains("this kernel has no event kmem/no_such_event", err);

        foreach (var snap in new[] { "snapshot-start", "snapshot-end" })
        {
            foreach (var f in new[] { "zoneinfo", "pagetypeinfo", "buddyinfo", "meminfo", "vmstat", "iomem", "cpuinfo", "uname", "kmem.mm_page_alloc.format", "tlb.tlb_flush.format" })
                Assert.True(new FileInfo(Path.Combine(dir, snap, f)).Length > 0, $"{snap}/{f}");
        }
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "record.json")));
        Assert.Contains("kmem/no_such_event", json.RootElement.GetProperty("events_missing").EnumerateArray().Select(e => e.GetString()));
        Assert.True(Directory.GetFiles(Path.Combine(dir, "stats")).Length >= 1);
        // trace.txt went around the page cache where the filesystem allows it (ext4 and, since v6.6, tmpfs do).
        Assert.True(json.RootElement.GetProperty("trace_written_with_o_direct").GetBoolean());
        Assert.Contains("just after it stopped", json.RootElement.GetProperty("allocator_state").GetString());
        // The summary counts what was written: one line per event.
        long written = File.ReadLines(Path.Combine(dir, "trace.txt")).LongCount();
        Assert.True(written > 100, $"{written} lines");
        Assert.Equal(written, json.RootElement.GetProperty("lines").GetInt64());
        Assert.Contains($"recorded {written:N0} events (", err);
        // The recorder measured this host's constants first, and kept its own threads out of the trace.
        using var costs = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "costs.json")));
        Assert.True(costs.RootElement.GetProperty("Zero4K").GetProperty("value").GetDouble() > 0);
        var tids = json.RootElement.GetProperty("untraced_tids").EnumerateArray().Select(t => t.GetInt32()).ToHashSet();
        Assert.NotEmpty(tids);
        Assert.DoesNotContain(File.ReadLines(Path.Combine(dir, "trace.txt")), l => tids.Any(t => l.Contains($"-{t} ") && l.Contains("sys_read")));

        // The directory is an input as it is: stats finds the trace and the snapshot's formats.
        var (sc, sout, serr) = CliTests.Run("stats", dir, "--json");
        Assert.True(sc == 0, serr);
        var byKind = JsonDocument.Parse(sout).RootElement.GetProperty("by_kind");
        Assert.True(byKind.GetProperty("mm_page_alloc").GetInt64() > 0);
        Assert.True(byKind.GetProperty("sys_write").GetInt64() > 0);
        // Independent count: event lines of each kind in the text.
        long lines = File.ReadLines(Path.Combine(dir, "trace.txt")).Count(l => l.Contains(" mm_page_alloc: "));
        Assert.Equal(lines, byKind.GetProperty("mm_page_alloc").GetInt64());
        // And analyze finds the trace and both snapshots in it.
        var (rc, _, rerr) = CliTests.Run("analyze", dir, "-o", Path.Combine(dir, "report"));
        Assert.True(rc == 0, rerr);
        Assert.True(File.Exists(Path.Combine(dir, "report", "report.html")));
        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report", "run.json")));
        Assert.EndsWith("rec", run.RootElement.GetProperty("snapshot").GetString());
    }

    [RequiresTracefsFact]
    public void record_for_a_duration_without_a_command()
    {
        var before = TracefsState();
        string dir = Path.Combine(TestPaths.TempDir(), "rec");
        var sw = Stopwatch.StartNew();
        var (code, _, err) = CliTests.Run("record", "-o", dir, "--no-calibrate", "--duration", "0.5", "--buffer-kb", "1024");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(dir, "trace.txt")));
        AssertSame(before, TracefsState());
    }

    [RequiresTracefsFact]
    public void a_full_disk_stops_the_recording_keeps_what_was_written_and_restores_tracefs()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "small");
        Directory.CreateDirectory(dir);
        // A 256 KiB tmpfs: the snapshots fit, the trace does not.
        var mount = Process.Start("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir])!;
        mount.WaitForExit();
        if (mount.ExitCode != 0) return; // no mount permission in this container: nothing to show
        try
        {
            var before = TracefsState();
            var (code, _, err) = CliTests.Run("record", "-o", dir, "--no-calibrate", "--buffer-kb", "4096", "--", "sh", "-c",
                "for i in 1 2 3 4 5 6 7 8; do head -c 8M /dev/zero > /dev/null; cat /proc/meminfo > /dev/null; done");
            Assert.Equal(4, code);
            Assert.Contains("failed", err);
            Assert.True(File.Exists(Path.Combine(dir, "trace.txt")));
            AssertSame(before, TracefsState());
        }
        finally { Process.Start("umount", [dir])!.WaitForExit(); }
    }

    [Fact]
    public void without_tracefs_the_message_says_how_to_mount_it()
    {
        if (!Environment.IsPrivilegedProcess) return; // the root check comes first and is what a user sees
        var e = Assert.Throws<RecordException>(() => new TracefsRecorder(new RecordOptions { OutputDir = TestPaths.TempDir(), Tracefs = "/nonexistent/tracing" }));
        Assert.Contains("mount -t tracefs", e.Message);
    }

    [RequiresTracefsFact]
    public void lost_events_are_reported_with_the_buffer_size_to_use_next_time()
    {
        var before = TracefsState();
        string dir = Path.Combine(TestPaths.TempDir(), "rec");
        // 8 KiB per CPU against hundreds of thousands of one-byte syscalls: the ring overflows.
        var (code, _, err) = CliTests.Run("record", "-o", dir, "--no-calibrate", "--buffer-kb", "8", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=300000", "status=none");
        Assert.True(code == 0, err);
        AssertSame(before, TracefsState());
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "record.json")));
        long lost = json.RootElement.GetProperty("lost_events").GetInt64();
        Assert.True(lost > 0, "no events were lost: " + err);
        Assert.Contains("events were lost", err);
        Assert.Contains("--buffer-kb ", err);
    }

    [RequiresTracefsFact]
    public void ctrl_c_and_a_killed_command_still_restore_tracefs()
    {
        var before = TracefsState();
        string dir = Path.Combine(TestPaths.TempDir(), "rec");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "asitrace.dll"));
        foreach (var a in new[] { "record", "-o", dir, "--no-calibrate", "--duration", "60", "--buffer-kb", "1024" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        // Wait until it is recording, then Ctrl-C (SIGINT).
        for (int i = 0; i < 100 && !File.Exists(Path.Combine(dir, "trace.txt")); i++) Thread.Sleep(100);
        Thread.Sleep(300);
        Process.Start("kill", ["-INT", p.Id.ToString()])!.WaitForExit();
        Assert.True(p.WaitForExit(30_000), "record did not stop on SIGINT");
        Assert.True(p.ExitCode == 0, err.Result);
        Assert.True(File.Exists(Path.Combine(dir, "snapshot-end", "zoneinfo")));
        AssertSame(before, TracefsState());

        var (code, _, err2) = CliTests.Run("record", "-o", Path.Combine(TestPaths.TempDir(), "k"), "--no-calibrate", "--", "sh", "-c", "kill -9 $$");
        Assert.True(code == 0, err2);
        AssertSame(before, TracefsState());
    }
}
