using System.Diagnostics;
using System.Text.Json;
using AsiTrace.Report;
using AsiTrace.Tests.Cli;
using SkiaSharp;

namespace AsiTrace.Tests.Report;

/// <summary>One replay of the dd-cat sample under the default policies, shared by the report tests.</summary>
public sealed class ReplayedSample
{
    public string Results { get; }
    public ReplayedSample()
    {
        Results = Path.Combine(TestPaths.TempDir(), "results");
        var (code, _, err) = CliTests.Run("replay", TestPaths.Sample("churn"), "-o", Results, "--interval", "250ms");
        if (code != 0) throw new InvalidOperationException(err);
    }
}

public class ReportTests(ReplayedSample sample) : IClassFixture<ReplayedSample>
{
    static int InkPixels(string png, int top, int bottom)
    {
        using var bmp = SKBitmap.Decode(png);
        int ink = 0;
        for (int y = top; y < Math.Min(bottom, bmp.Height); y++)
            for (int x = bmp.Width / 4; x < bmp.Width * 3 / 4; x++)
            {
                var c = bmp.GetPixel(x, y);
                if (c.Red < 128 && c.Green < 128 && c.Blue < 128) ink++;
            }
        return ink;
    }

    [Fact]
    public void report_writes_every_chart_csv_summary_and_a_self_contained_html()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "report");
        var (code, _, err) = CliTests.Run("report", sample.Results, "-o", outDir);
        Assert.True(code == 0, err);
        foreach (var chart in new[] { "cost_by_cause", "cost_vs_noasi", "shootdowns_over_time", "direct_map_leaves",
                     "pageblock_map_asi-freetypes", "pageblock_map_unmapped", "fragmentation_over_time", "fidelity", "allocation_mix" })
        {
            Assert.True(new FileInfo(Path.Combine(outDir, "plots", chart + ".png")).Length > 5000, chart);
            Assert.True(new FileInfo(Path.Combine(outDir, "plots", chart + ".svg")).Length > 1000, chart);
        }
        // The title strip of a chart has text in it.
        Assert.True(InkPixels(Path.Combine(outDir, "plots", "cost_by_cause.png"), 5, 30) > 100);

        var set = ResultsSet.Load(sample.Results);
        var totals = File.ReadAllLines(Path.Combine(outDir, "totals.csv"));
        Assert.Equal("policy,metric,value,count", totals[0]);
        Assert.Equal(set.Totals.Count, totals.Length - 1);
        Assert.Equal(set.Series.Count + 1, File.ReadAllLines(Path.Combine(outDir, "series.csv")).Length);

        string md = File.ReadAllText(Path.Combine(outDir, "summary.md"));
        Assert.Contains("| metric | `noasi` | `asi-rfc` |", md);
        Assert.Contains("The mermap saves", md);
        Assert.Contains("mm_page_alloc_zone_locked", md);
        // churn has no direct-map-removed memory: the headline says so instead of comparing two identical replays.
        Assert.Contains("No allocation was classified `unmapped`", md);
        Assert.DoesNotContain("`__GFP_UNMAPPED` pools change", md);

        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("https://", html);
        Assert.Contains("<svg", html);
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("Cost constants", html);
    }

    [Fact]
    public void time_charts_carry_their_values_for_the_pointer_readout()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "report");
        Assert.Equal(0, CliTests.Run("report", sample.Results, "-o", outDir).Code);
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        var hovers = System.Text.RegularExpressions.Regex.Matches(html, "data-hover=\"([^\"]*)\"")
            .Select(x => JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(x.Groups[1].Value)).RootElement).ToList();
        Assert.True(hovers.Count >= 3);
        var set = ResultsSet.Load(sample.Results);
        double t0 = set.TraceStartNs!.Value;
        // The shootdown chart's asi-rfc line is the series file's ipis_sent, in trace seconds.
        var line = hovers.SelectMany(h => h.GetProperty("series").EnumerateArray()).First(s => s.GetProperty("name").GetString()!.Split(" = ").Contains("asi-rfc"));
        var want = set.Series.Where(s => s.Policy == "asi-rfc" && s.Metric == "ipis_sent").OrderBy(s => s.TsNs).ToList();
        Assert.Equal(want.Select(s => s.Value), line.GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(want.Select(s => Math.Round((s.TsNs - t0) / 1e9, 6)), line.GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        foreach (var h in hovers)
        {
            // The data area lies inside the 960-pixel-wide chart, and the axis covers the trace.
            Assert.InRange(h.GetProperty("left").GetDouble(), 1, h.GetProperty("right").GetDouble() - 100);
            Assert.InRange(h.GetProperty("right").GetDouble(), 100, 960);
            Assert.True(h.GetProperty("xmax").GetDouble() > h.GetProperty("xmin").GetDouble());
        }
    }

    [Fact]
    public void report_shows_where_the_cost_comes_from()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "report");
        var (code, _, err) = CliTests.Run("report", sample.Results, "-o", outDir);
        Assert.True(code == 0, err);
        var set = ResultsSet.Load(sample.Results);
        var csv = File.ReadAllLines(Path.Combine(outDir, "attribution.csv"));
        Assert.Equal("policy,by,key,metric,value,count", csv[0]);
        Assert.Equal(set.Attribution.Count, csv.Length - 1);
        // The chart of the extra cost by task has a bar for the task that costs asi-rfc most (python3 on churn).
        Assert.True(new FileInfo(Path.Combine(outDir, "plots", "extra_cost_by_comm.svg")).Length > 1000);
        Assert.Contains("python3", File.ReadAllText(Path.Combine(outDir, "plots", "extra_cost_by_comm.svg")));
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.Contains("id=\"attribution\"", html);
        Assert.Contains("asi-rfc: top 10 by gfp", html);
        Assert.Contains("GFP_HIGHUSER_MOVABLE|__GFP_ZERO", html);
        // The top row of asi-rfc by comm is the task with the largest extra over noasi, as the attribution file says.
        var top = AsiTrace.Replay.Results.AttributionTable.Top(set.Attribution, "asi-rfc", "comm", "estimated_ns", 1, "noasi")[0];
        Assert.Equal("python3", top.Key);
        Assert.True(top.Value > top.Baseline);
    }

    [Fact]
    public void with_unmapped_allocations_the_headline_compares_the_pool_with_per_allocation_unmapping()
    {
        string dir = TestPaths.TempDir();
        string events = Path.Combine(dir, "fc.parquet"), results = Path.Combine(dir, "fc-results"), outDir = Path.Combine(dir, "fc-report");
        Assert.Equal(0, CliTests.Run("synth", "firecracker-populate", "--param", "guest_mib=64", "-o", events).Code);
        var (rc, _, rerr) = CliTests.Run("replay", events, "-o", results, "--policy", "noasi,unmapped,secretfree");
        Assert.True(rc == 0, rerr);
        var (code, _, err) = CliTests.Run("report", results, "-o", outDir);
        Assert.True(code == 0, err);
        string md = File.ReadAllText(Path.Combine(outDir, "summary.md"));
        Assert.Contains("`__GFP_UNMAPPED` pools change the initiator time of direct-map removal by -", md);
        Assert.DoesNotContain("No allocation was classified", md);
    }

    [Fact]
    public void charts_have_text_on_a_box_without_fonts()
    {
        // Hide the system fonts in a private mount namespace (root): only the DejaVu Sans shipped with the tool remains.
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/unshare")) return;
        string outDir = Path.Combine(TestPaths.TempDir(), "nofonts");
        string exe = Path.Combine(AppContext.BaseDirectory, "asitrace.dll");
        var psi = new ProcessStartInfo("unshare", ["-m", "sh", "-c",
            $"mount -t tmpfs none /usr/share/fonts && ls /usr/share/fonts | wc -l && dotnet '{exe}' report '{sample.Results}' -o '{outDir}'"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && stderr.Contains("unshare")) return; // no mount namespaces in this container
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Equal("0", stdout.Trim().Split('\n')[0]); // no system fonts were visible
        Assert.True(InkPixels(Path.Combine(outDir, "plots", "cost_by_cause.png"), 5, 30) > 100, "no text in the title area");
        Assert.True(InkPixels(Path.Combine(outDir, "plots", "fidelity.png"), 5, 30) > 100, "no text in the title area");
    }

    [RequiresToolFact("chromium")]
    public void report_html_renders_in_headless_chromium_with_every_image_loaded_and_no_console_errors()
    {
        string outDir = Path.Combine(TestPaths.TempDir(), "browser");
        var (code, _, err) = CliTests.Run("report", sample.Results, "-o", outDir);
        Assert.True(code == 0, err);
        string url = "file://" + Path.Combine(outDir, "report.html");
        string[] flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=" + TestPaths.TempDir()];
        (string Out, string Err) Chromium(params string[] args)
        {
            var psi = new ProcessStartInfo(PeerTools.Find("chromium")!) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in flags.Concat(args)) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(120_000), "chromium did not finish");
            return (o.Result, e.Result);
        }
        // The page's own load handler writes into its title how many images loaded.
        var (dom, log) = Chromium("--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", url);
        var m = System.Text.RegularExpressions.Regex.Match(dom, @"asitrace report: (\d+)/(\d+) images, (\d+) svg, (\d+) hover");
        Assert.True(m.Success, "the load handler did not run: " + dom[..Math.Min(300, dom.Length)]);
        Assert.Equal(m.Groups[2].Value, m.Groups[1].Value);
        Assert.True(int.Parse(m.Groups[3].Value) >= 8);
        // The time charts' pointer readout set itself up (shootdowns, direct-map leaves, fragmentation).
        Assert.True(int.Parse(m.Groups[4].Value) >= 3, m.Value);
        Assert.DoesNotContain("Uncaught", log);
        Assert.DoesNotContain(":CONSOLE", log.Split('\n').Where(l => l.Contains("ERROR")).Aggregate("", (a, b) => a + b));
        string shot = Path.Combine(outDir, "shot.png");
        Chromium("--screenshot=" + shot, "--window-size=1200,2000", url);
        Assert.True(File.Exists(shot));
        Assert.True(InkPixels(shot, 0, 2000) > 20_000, "the screenshot is blank");
    }
}

public class AnalyzeDemoTests
{
    [Fact]
    public void demo_analyzes_the_bundled_trace_and_prints_where_the_report_is()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "demo");
        var (code, stdout, err) = CliTests.Run("demo", "-o", dir);
        Assert.True(code == 0, err);
        string report = stdout.Trim();
        Assert.EndsWith("report.html", report);
        Assert.True(File.Exists(report));
        foreach (var f in new[] { "totals.parquet", "series.parquet", "fidelity.parquet", "run.json", "summary.md", "totals.csv", "plots/cost_by_cause.svg" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
    }
}
