using AsiTrace.Ingest.Canonical;
using Xunit;

namespace AsiTrace.Tests.Ingest;

public class TraceStatsTests
{
    [Fact]
    public void counting_a_new_name_past_the_initial_capacity_grows_the_table_and_keeps_every_count()
    {
        // The 33rd name grew the table under an index taken from the array before it grew: IndexOutOfRangeException on a
        // lost-events trace once one more counter existed.
        var s = new TraceStats();
        for (int i = 0; i < 100; i++) s.Add($"counter_{i}", Severity.Info, i + 1);
        for (int i = 0; i < 100; i++) Assert.Equal(i + 1, s.Get($"counter_{i}"));
        var merged = new TraceStats();
        merged.Add("own", Severity.Info, 7);
        merged.Merge(s);
        for (int i = 0; i < 100; i++) Assert.Equal(i + 1, merged.Get($"counter_{i}"));
        Assert.Equal(7, merged.Get("own"));
    }
}
