using System.Text.Json;
using AsiTrace.Ingest.Canonical;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary><c>--window</c>, <c>--cpu</c>, <c>--pid</c>, <c>--comm</c> on stats and ingest, checked against the trace's
/// own events.</summary>
public class EventFilterTests
{
    static long StatsEvents(params string[] args)
    {
        var (code, stdout, err) = Cli.CliTests.Run(["stats", TestPaths.Sample("churn"), "--json", .. args]);
        Assert.True(code == 0, err);
        return JsonDocument.Parse(stdout).RootElement.GetProperty("events").GetInt64();
    }

    [Fact]
    public void each_filter_keeps_exactly_the_matching_events()
    {
        var (events, reader) = ReadAll.Path(TestPaths.Sample("churn"));
        long first = events.Min(e => e.TsNs);
        Assert.Equal(events.Count(e => e.Cpu == 0), StatsEvents("--cpu", "0"));
        Assert.Equal(events.Count(e => e.Cpu is 0 or 1), StatsEvents("--cpu", "0-1"));
        Assert.Equal(events.Count(e => e.TsNs <= first + 1_000_000_000), StatsEvents("--window", "0s..1s"));
        Assert.Equal(events.Count(e => e.TsNs >= first + 500_000_000), StatsEvents("--window", "500ms.."));
        // Trace time as printed (seconds) selects the same events as the offset that names the same moment.
        string abs = ((first + 1_000_000_000) / 1e9).ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(StatsEvents("--window", "0s..1s"), StatsEvents("--window", ".." + abs));
        // By task: the busiest pid and comm.
        int pid = events.Where(e => e.Has(EventFields.Pid)).GroupBy(e => e.Pid).OrderByDescending(g => g.Count()).First().Key;
        Assert.Equal(events.Count(e => e.Has(EventFields.Pid) && e.Pid == pid), StatsEvents("--pid", pid.ToString()));
        string comm = events.Where(e => e.Has(EventFields.Comm)).GroupBy(e => reader.Comms[e.CommId]).OrderByDescending(g => g.Count()).First().Key;
        Assert.Equal(events.Count(e => e.Has(EventFields.Comm) && reader.Comms[e.CommId] == comm), StatsEvents("--comm", comm));
        reader.Dispose();
    }

    [Fact]
    public void ingest_writes_only_what_the_filter_keeps()
    {
        string output = Path.Combine(TestPaths.TempDir(), "cpu1.parquet");
        var (code, _, err) = Cli.CliTests.Run("ingest", TestPaths.Sample("churn"), "-o", output, "--cpu", "1", "--window", "..2s");
        Assert.True(code == 0, err);
        var (events, reader) = ReadAll.Path(output);
        reader.Dispose();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal(1, e.Cpu));
        Assert.True(events.Max(e => e.TsNs) - events.Min(e => e.TsNs) <= 2_000_000_000);
    }

    [Theory]
    [InlineData("--window", "10s")]
    [InlineData("--window", "..")]
    [InlineData("--window", "20s..10s")]
    [InlineData("--window", "1x..2")]
    [InlineData("--cpu", "a")]
    [InlineData("--cpu", "3-1")]
    [InlineData("--pid", "-5")]
    [InlineData("--comm", ",")]
    public void a_malformed_filter_is_a_usage_error(string option, string value)
    {
        var (code, _, err) = Cli.CliTests.Run("stats", TestPaths.Sample("churn"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(option, err);
    }
}
