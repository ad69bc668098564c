using AsiTrace.Ingest.Pipeline;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;
using Xunit;

namespace AsiTrace.Tests.Replay;

public class SlabRetryTests
{
    [Fact]
    public void a_refused_slab_high_order_attempt_is_retried_at_order_0_and_its_free_releases_that_page()
    {
        // The 6.12 fragment recording: 250,000 empty files, slab's order-2 attempts (__GFP_NORETRY|__GFP_NOWARN, no
        // direct reclaim). Under asi-freetypes they may not flip a pageblock (ALLOC_NOBLOCK): 11,308 of them failed
        // outright before slab's retry was modelled.
        string dir = TestPaths.Sample("corpus/q612-fragment-2cpu");
        var r = ReplayRunner.Run(() => TraceOpener.Open(dir, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = AsiTrace.Ingest.Snapshot.MachineSnapshot.Load(Path.Combine(dir, "snapshot-start")),
            Policies = [new PolicySpec(PolicyKind.NoAsi), new PolicySpec(PolicyKind.AsiFreetypes)],
        });
        long retries = r.Anomalies.GetValueOrDefault("slab_retries_at_order0_asi-freetypes");
        long failures = r.Anomalies.GetValueOrDefault("model_allocation_failures_asi-freetypes");
        Assert.True(retries > 10_000, $"{retries} retries");
        Assert.True(failures < 100, $"{failures} failures");
        // Every retried slab's traced free (of the order-2 block) released the one page the model holds.
        Assert.Equal(0, r.Anomalies.GetValueOrDefault("model_frees_of_pages_not_held_asi-freetypes"));
        Assert.Equal(0, r.Anomalies.GetValueOrDefault("model_allocation_failures_noasi"));
    }
}
