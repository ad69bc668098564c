using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace AsiTrace.Tests.Report;

/// <summary>Every chart over time is drawn on the trace's own clock: its x axis, read back from the SVG, starts at the
/// trace's first event and reaches its last one.</summary>
public partial class ChartTimeAxisTests
{
    [GeneratedRegex("""<text transform="translate\(([-0-9.]+) ([-0-9.]+)\)[^>]*>\s*([^<]*?)\s*</text>""")]
    private static partial Regex SvgText();

    /// <summary>The x axis's tick labels: the numeric labels sharing the lowest row of the image.</summary>
    static double[] XTicks(string svg)
    {
        var numeric = SvgText().Matches(svg)
            .Select(m => (Y: Math.Round(double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)), Text: m.Groups[3].Value))
            .Where(t => double.TryParse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .GroupBy(t => t.Y).Where(g => g.Count() >= 3).OrderByDescending(g => g.Key).First();
        return numeric.Select(t => double.Parse(t.Text, CultureInfo.InvariantCulture)).Order().ToArray();
    }

    [Fact]
    public void time_axes_start_at_the_trace_start_and_reach_its_end()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "an");
        var (code, _, err) = Cli.CliTests.Run("analyze", TestPaths.Sample("churn"), "-o", dir);
        Assert.True(code == 0, err);
        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "run.json")));
        var result = run.RootElement.GetProperty("result");
        double span = (result.GetProperty("trace_end_ns").GetInt64() - result.GetProperty("trace_start_ns").GetInt64()) / 1e9;
        Assert.InRange(span, 2.5, 3.0);
        // --interval auto: a round interval giving at least 50 points (50 ms on this 2.7 s trace).
        long interval = result.GetProperty("series_interval_ns").GetInt64();
        Assert.True(span * 1e9 / interval >= 50, $"{interval} ns");
        var timeCharts = Directory.GetFiles(Path.Combine(dir, "plots"), "*.svg")
            .Where(f => File.ReadAllText(f).Contains("trace time (s)")).ToList();
        Assert.Contains(timeCharts, f => f.Contains("fragmentation_over_time"));
        Assert.Contains(timeCharts, f => f.Contains("pageblock_map_"));
        foreach (var f in timeCharts)
        {
            var ticks = XTicks(File.ReadAllText(f));
            string name = Path.GetFileName(f);
            Assert.True(ticks[0] >= -0.1 * span && ticks[0] <= 0.1 * span, $"{name}: x axis starts at {ticks[0]} s");
            Assert.True(ticks[^1] >= 0.9 * span && ticks[^1] <= 1.15 * span, $"{name}: x axis ends at {ticks[^1]} s, the trace spans {span:0.00} s");
        }
    }
}
