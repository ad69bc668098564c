using System.Text.RegularExpressions;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;
using Xunit;
using ZstdSharp;

namespace AsiTrace.Tests.Replay;

/// <summary>
/// Guest exits on a real KVM trace: sample-traces/kvm/qemu-6.1, Debian's Linux 6.1 under qemu (TCG, SVM with nested
/// paging) running kvm/kvm-touch.c — 30 VMs, each writing once into 144 guest pages (64 KiB … 640 KiB) that are not
/// backed yet. Each such write is a nested page fault: a kvm_exit whose handling faults in and zeroes one user page
/// (docs/model.md §8.7). The expected counts come from the workload and from the trace's own lines, not from the model.
/// </summary>
public class KvmGuestExitTests
{
    const int Rounds = 30, PagesPerRound = (0xA000 - 0x1000) / 0x100;

    static readonly Lazy<ReplayResult> Result = new(() =>
    {
        string dir = TestPaths.Sample("kvm/qemu-6.1");
        return ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-end")),
            Policies = new[] { "noasi", "asi-rfc", "asi-aug2025" }.Select(p => { Assert.True(PolicySpec.TryParse(p, out var s)); return s; }).ToList(),
        });
    });

    /// <summary>Event counts read from the compressed text with a regex, independently of our readers.</summary>
    static readonly Lazy<Dictionary<string, int>> Lines = new(() =>
    {
        using var z = new DecompressionStream(File.OpenRead(TestPaths.Sample("kvm/qemu-6.1/trace.txt.zst")));
        using var reader = new StreamReader(z);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var name = new Regex(@"^\s*\S.*?\[\d+\]\s+\S+\s+[\d.]+:\s+(\w+):", RegexOptions.Compiled);
        for (string? line; (line = reader.ReadLine()) is not null;)
            if (name.Match(line) is { Success: true } m) counts[m.Groups[1].Value] = counts.GetValueOrDefault(m.Groups[1].Value) + 1;
        return counts;
    });

    static int LinesOf(string name) => Lines.Value.GetValueOrDefault(name);

    [Fact]
    public void EveryGuestExitIsAKernelEntryBesideTheSystemCallsAndFaults()
    {
        Assert.True(LinesOf("kvm_exit") >= Rounds * PagesPerRound, $"{LinesOf("kvm_exit")} kvm_exit lines");
        Assert.Equal(LinesOf("kvm_exit"), LinesOf("kvm_entry"));
        long expected = LinesOf("sys_enter") + LinesOf("page_fault_user") + LinesOf("kvm_exit");
        foreach (var policy in new[] { "noasi", "asi-rfc", "asi-aug2025" })
            Assert.Equal(expected, (long)Result.Value.Metrics[policy]["kernel_entries"]);
        // kvm_entry goes back to the guest, not to user space: the KVM_RUN ioctl around the guest exits returns only
        // at its sys_exit, so no return is left without its entry.
        Assert.False(Result.Value.Anomalies.ContainsKey("syscall_returns_without_entry"),
            $"{Result.Value.Anomalies.GetValueOrDefault("syscall_returns_without_entry")} returns without entry");
        Assert.Contains(Result.Value.Assumptions, a => a.StartsWith("kernel entries: the traced system calls and user page faults, and the traced KVM guest exits", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("asi-rfc")]
    [InlineData("asi-aug2025")]
    public void EachNestedPageFaultThatZeroesAGuestPagePaysOneExit(string policy)
    {
        var m = Result.Value.Metrics[policy];
        // One zeroing exit per first touch of a guest page: 30 rounds × 144 pages, each inside its own guest exit.
        Assert.Equal(Rounds * PagesPerRound, m["asi_exits_in_guest_exits"]);
        Assert.True(m["asi_exits_zeroing"] >= Rounds * PagesPerRound, $"{m["asi_exits_zeroing"]} zeroing exits");
        // At most one exit per entry, whatever the cause.
        Assert.True(m["asi_exits_in_guest_exits"] <= LinesOf("kvm_exit"));
        Assert.True(m["asi_exits_in_syscalls"] <= LinesOf("sys_enter"));
        Assert.True(m["asi_exits_in_faults"] <= LinesOf("page_fault_user"));
        Assert.Equal(0, Result.Value.Metrics["noasi"]["asi_exits"]);
    }

    [Fact]
    public void ReplayJsonGivesTracedEntriesAndNullWhereTheTraceHasNone()
    {
        var traced = ResultsWriter.ToJson(Result.Value)["policies"]!["asi-rfc"]!;
        Assert.Equal("traced", (string?)traced["kernel_entries_basis"]);
        Assert.Equal(LinesOf("sys_enter") + LinesOf("page_fault_user") + LinesOf("kvm_exit"), (long)traced["kernel_entries"]!);

        // dd-cat was recorded without raw_syscalls, user faults or KVM events: its entries are all inferred.
        string dir = TestPaths.Sample("dd-cat");
        Assert.True(PolicySpec.TryParse("asi-rfc", out var rfc));
        var none = ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-end")),
            Policies = [rfc],
        });
        var inferred = ResultsWriter.ToJson(none)["policies"]!["asi-rfc"]!;
        Assert.Equal("inferred", (string?)inferred["kernel_entries_basis"]);
        Assert.Null(inferred["kernel_entries"]);
        Assert.True(none.Metrics["asi-rfc"]["kernel_entries"] > 0, "the inferred count stays in the metrics");
    }

    [Fact]
    public void InferringTheOtherEntriesKeepsTheGuestExits()
    {
        string dir = TestPaths.Sample("kvm/qemu-6.1");
        Assert.True(PolicySpec.TryParse("asi-rfc", out var rfc));
        var inferred = ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(dir, "snapshot-end")),
            Policies = [rfc],
            Knobs = new PolicyKnobs { InferEntries = true },
        });
        Assert.Equal(Rounds * PagesPerRound, inferred.Metrics["asi-rfc"]["asi_exits_in_guest_exits"]);
        Assert.Contains(inferred.Assumptions, a => a.StartsWith("kernel entries inferred", StringComparison.Ordinal) && a.Contains("KVM guest exits", StringComparison.Ordinal));
    }
}
