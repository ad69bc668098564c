using System.Text.RegularExpressions;
using Xunit;

namespace AsiTrace.Tests.Report;

public partial class ReportLayoutTests
{
    [GeneratedRegex("""href="#([^"]+)" """ + "|" + """href="#([^"]+)">""")]
    private static partial Regex Links();

    [Fact]
    public void the_report_opens_with_contents_whose_links_all_land_and_identical_policies_share_one_line()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "an");
        var (code, _, err) = Cli.CliTests.Run("analyze", TestPaths.Sample("churn"), "-o", dir);
        Assert.True(code == 0, err);
        string html = File.ReadAllText(Path.Combine(dir, "report.html"));
        int nav = html.IndexOf("<nav id=\"contents\">", StringComparison.Ordinal);
        Assert.True(nav >= 0 && nav < html.IndexOf("id=\"headlines\"", StringComparison.Ordinal), "contents come first");
        var targets = Links().Matches(html).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToList();
        Assert.True(targets.Count >= 10, $"{targets.Count} links");
        foreach (var t in targets) Assert.Contains($"id=\"{t}\"", html);
        // On churn nothing is classified unmapped, so noasi, unmapped and secretfree replay alike: one line, named for
        // all three, not three lines drawn over each other.
        string svg = File.ReadAllText(Path.Combine(dir, "plots", "fragmentation_over_time.svg"));
        Assert.Contains("noasi = unmapped = secretfree", svg);
        Assert.DoesNotMatch(@">\s*unmapped\s*<", svg);
        // The direct map in one chart for every policy, counting leaves on a log scale (ticks at powers of ten).
        var plots = Directory.GetFiles(Path.Combine(dir, "plots"), "direct_map_*.svg").Select(Path.GetFileName).ToList();
        Assert.Equal(["direct_map_leaves.svg"], plots);
        string leaves = File.ReadAllText(Path.Combine(dir, "plots", "direct_map_leaves.svg"));
        Assert.Contains(">1,000<", Regex.Replace(leaves, @"\s+", ""));
        Assert.Contains(">10,000<", Regex.Replace(leaves, @"\s+", ""));
        Assert.Contains("4K leaves", leaves);
        // Fidelity as signed error around 0, with the target bands drawn.
        string fidelity = File.ReadAllText(Path.Combine(dir, "plots", "fidelity.svg"));
        Assert.Contains("(model − trace) ÷ trace (%)", fidelity);
        Assert.Contains("target band", fidelity);
        // The allocation mix on a log scale: churn's 32 order-8 requests stand beside its 100,000 order-0 ones.
        string mix = File.ReadAllText(Path.Combine(dir, "plots", "allocation_mix.svg"));
        Assert.Contains("allocation requests (log scale)", mix);
        Assert.Contains(">100,000<", Regex.Replace(mix, @"\s+", ""));
        Assert.Contains("o8 movable", mix);
        // Cost by cause in colour-blind-safe colours: the asi_exit causes one family of blues, none of Category20's pairs
        // (#1F77B4 / #AEC7E8 were two causes that looked alike).
        string cost = File.ReadAllText(Path.Combine(dir, "plots", "cost_by_cause.svg"));
        Assert.Contains("#2171B5", cost, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("#AEC7E8", cost, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("#1F77B4", cost, StringComparison.OrdinalIgnoreCase);
        // The options read as written: no \u002B for '+', knobs as JSON of their own type.
        string run = File.ReadAllText(Path.Combine(dir, "run.json"));
        Assert.DoesNotContain("\\u002B", run);
        Assert.Contains("\"asi-freetypes+mermap\"", run);
        using var doc = System.Text.Json.JsonDocument.Parse(run);
        var knobs = doc.RootElement.GetProperty("options").GetProperty("knobs");
        Assert.Equal(System.Text.Json.JsonValueKind.False, knobs.GetProperty("SharedPcpLists").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, knobs.GetProperty("FlipPageblocks").ValueKind);
        Assert.DoesNotContain("&quot;False&quot;", html);
    }
}
