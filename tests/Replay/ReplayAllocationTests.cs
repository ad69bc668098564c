using System.Runtime.InteropServices;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Requests;
using AsiTrace.Replay.Synth;
using Xunit;

namespace AsiTrace.Tests.Replay;

/// <summary>
/// The replay's hot path allocates nothing per event once warm: a machine playing reconstructed request batches (what
/// each policy thread does) keeps its allocated bytes flat across hundreds of thousands of events, for every policy and
/// on scenarios that exercise anonymous memory, the page cache and file copies, and direct-map removal.
/// </summary>
public class ReplayAllocationTests
{
    static readonly Dictionary<string, Dictionary<string, string>> Inputs = new()
    {
        ["kernel-build"] = new() { ["processes"] = "600", ["mib_per_process"] = "2" },
        ["fio-randread"] = new() { ["reads"] = "300000" },
        ["firecracker-populate"] = new() { ["guest_mib"] = "1024" },
    };

    public static TheoryData<string, string> Cases()
    {
        var d = new TheoryData<string, string>();
        foreach (var scenario in Inputs.Keys)
            foreach (var policy in new[] { "noasi", "asi-rfc", "asi-freetypes", "asi-rfc+mermap", "unmapped", "secretfree" })
                d.Add(scenario, policy);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PlayingRequestsAllocatesNothingPerEvent(string scenario, string policy)
    {
        var trace = Scenarios.Generate(scenario, Inputs[scenario]);
        if (scenario == "firecracker-populate") Twice(trace);
        var events = CollectionsMarshal.AsSpan(trace.Events);
        var scan = new PreScan(1L << 28, trackPcpLists: false);
        scan.Add(events);
        var classifier = new SensitivityClassifier([], id => id >= 0 && id < trace.Comms.Count ? trace.Comms[id] : null,
            scan.PageCacheAllocations > 0 ? scan.IsPageCache : null);
        var recon = new RequestReconstructor([], scan.KeepAllocated, (in AllocRequest r, out ClassReason why) => classifier.Classify(in r, out why));
        var batches = new List<RequestBatch>();
        for (int o = 0; o < events.Length; o += ReplayRunner.Chunk)
        {
            var b = new RequestBatch();
            recon.Add(events.Slice(o, Math.Min(ReplayRunner.Chunk, events.Length - o)), b);
            batches.Add(b);
        }
        Assert.True(PolicySpec.TryParse(policy, out var spec));
        var machine = ReplayRunner.MachineAfterPreScan(spec, scan, trace.Metadata.CpuCount);
        var player = new RequestPlayer<MachineSink>(new MachineSink(machine));
        // Warm up on the first half: the model's tables reach the sizes the workload needs (free-head links, the
        // player's slot map, queued unmaps), as they would early in any long trace.
        int warm = batches.Count / 2;
        for (int k = 0; k < warm; k++) Play(player, batches[k], events, k);
        int actorsBefore = machine.Attribution.Actors.Count;
        long before = GC.GetAllocatedBytesForCurrentThread();
        long played = 0;
        for (int k = warm; k < batches.Count; k++) { Play(player, batches[k], events, k); played += Math.Min(ReplayRunner.Chunk, events.Length - k * ReplayRunner.Chunk); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // New tasks in the second half are new attribution keys: a row each (state that grows with the tasks, as the
        // slot map grows with live allocations), never per event.
        int newActors = machine.Attribution.Actors.Count - actorsBefore;
        Assert.True(newActors < played / 100, $"{newActors} new attribution keys over {played} events");
        Assert.True(played >= 100_000, $"only {played} events measured");
        var c = machine.Counters;
        Assert.True(c.CowCopies + c.FileCopies + c.BytesZeroed > 0, "the scenario should exercise the policy's hooks");
        Assert.True(allocated < 16 * 1024 + newActors * 1024L, $"{allocated} bytes allocated over {played} events ({newActors} new attribution keys)");
    }

    /// <summary>A population only grows the model (8 bytes of the player's slot map per live allocation, a page-table
    /// page per split): state, not per-event garbage. Populating, freeing it all and populating again makes the second
    /// round a steady state to measure.</summary>
    static void Twice(SynthTrace t)
    {
        var first = t.Events.ToList();
        long span = first[^1].TsNs - first[0].TsNs + 1_000_000;
        foreach (var e in first.Where(e => e.Kind == EventKind.MmPageAlloc))
        {
            var free = e;
            free.Kind = EventKind.MmPageFree;
            free.Fields = EventFields.Pid | EventFields.Comm | EventFields.Pfn | EventFields.Order;
            free.Gfp = 0;
            free.Migratetype = 0;
            free.TsNs = e.TsNs + span / 2;
            t.Events.Add(free);
        }
        t.Events.Sort((a, b) => a.TsNs.CompareTo(b.TsNs));
        var round = t.Events.ToList();
        foreach (var e in round) { var again = e; again.TsNs += 2 * span; t.Events.Add(again); }
    }

    static void Play(RequestPlayer<MachineSink> player, RequestBatch batch, ReadOnlySpan<TraceEvent> events, int k)
    {
        player.Begin(batch);
        int o = k * ReplayRunner.Chunk;
        var chunk = events.Slice(o, Math.Min(ReplayRunner.Chunk, events.Length - o));
        for (int j = 0; j < chunk.Length; j++) player.Event(j, in chunk[j]);
    }
}
