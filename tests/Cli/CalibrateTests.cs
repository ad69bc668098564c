using System.Text.Json;

namespace AsiTrace.Tests.Cli;

/// <summary><c>asitrace calibrate</c> on this host: what it claims is plausible, what it cannot measure is named, and
/// its JSON is what <c>replay --costs</c> reads.</summary>
public class CalibrateTests
{
    /// <summary>Plausible bounds for each constant it may measure, in ns: wide enough for any x86 host or VM, narrow
    /// enough to catch a unit or an arithmetic mistake.</summary>
    static readonly Dictionary<string, (double Low, double High)> Bounds = new()
    {
        ["Zero4K"] = (10, 5_000),
        ["Copy4K"] = (10, 5_000),
        ["FileIoBase"] = (50, 50_000),
        ["IpiInitiatorBase"] = (100, 200_000),
        ["IpiInitiatorPerTarget"] = (1, 50_000),
        ["Ibpb"] = (10, 100_000),
    };

    [Fact]
    public void calibrate_claims_plausible_positive_constants_names_what_it_cannot_measure_and_feeds_replay()
    {
        string dir = TestPaths.TempDir();
        string costs = Path.Combine(dir, "costs.json");
        var (code, _, err) = CliTests.Run("calibrate", "-o", costs);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(costs));
        var root = doc.RootElement;
        var unavailable = root.GetProperty("_unavailable");
        foreach (var (name, (lo, hi)) in Bounds)
        {
            if (root.TryGetProperty(name, out var c))
            {
                double v = c.GetProperty("value").GetDouble();
                Assert.InRange(v, lo, hi);
                Assert.Equal("ns", c.GetProperty("unit").GetString());
                Assert.True(c.GetProperty("low").GetDouble() <= v && v <= c.GetProperty("high").GetDouble(), $"{name}: the spread does not hold the median");
                Assert.True(c.GetProperty("measured").GetBoolean());
                Assert.False(string.IsNullOrEmpty(c.GetProperty("method").GetString()));
            }
            else Assert.False(string.IsNullOrWhiteSpace(unavailable.GetProperty(name).GetString()), $"{name} neither measured nor named unavailable");
        }
        // Zeroing and copying can always be measured from user space.
        Assert.True(root.TryGetProperty("Zero4K", out _));
        Assert.True(root.TryGetProperty("Copy4K", out _));

        // replay --costs reads it, and run.json carries each measured constant's provenance.
        string outDir = Path.Combine(dir, "r");
        var (rc, _, rerr) = CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", outDir, "--policy", "noasi", "--costs", costs);
        Assert.True(rc == 0, rerr);
        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")));
        var zero = run.RootElement.GetProperty("costs").GetProperty("Zero4K");
        Assert.Equal(root.GetProperty("Zero4K").GetProperty("value").GetDouble(), zero.GetProperty("value").GetDouble());
        Assert.StartsWith("measured on this host", zero.GetProperty("source").GetString());
        Assert.False(zero.GetProperty("estimate").GetBoolean());
    }

    [Fact]
    public void a_costs_file_that_is_not_numbers_is_a_usage_error_naming_the_constant()
    {
        string dir = TestPaths.TempDir();
        string bad = Path.Combine(dir, "bad.json");
        File.WriteAllText(bad, """{"Zero4K": {"value": "fast"}}""");
        var (code, _, err) = CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", Path.Combine(dir, "r"), "--costs", bad);
        Assert.Equal(2, code);
        Assert.Contains("Zero4K", err);
        File.WriteAllText(bad, """{"NoSuchCost": 3}""");
        Assert.Equal(2, CliTests.Run("replay", TestPaths.Sample("dd-cat"), "-o", Path.Combine(dir, "r2"), "--costs", bad).Code);
    }
}
