using System.Globalization;
using AsiTrace.Replay.Results;
using ScottPlot;

namespace AsiTrace.Report;

/// <summary>A sweep's chart (each policy's latency against the swept parameter, log-scaled values on the x axis) and
/// its CSV.</summary>
public static class SweepChart
{
    public static List<string> Write(IReadOnlyList<SweepPoint> points, string parameter, string title, string dir)
    {
        ReportFonts.Register();
        Directory.CreateDirectory(dir);
        var written = new List<string>();
        string csv = Path.Combine(dir, "sweep.csv");
        using (var w = new StreamWriter(csv))
        {
            w.WriteLine($"{parameter},policy,latency_ns,estimated_ns");
            foreach (var p in points)
                w.WriteLine(string.Join(',', p.Value.ToString(CultureInfo.InvariantCulture), p.Policy,
                    p.LatencyNs.ToString("R", CultureInfo.InvariantCulture), p.CpuNs.ToString("R", CultureInfo.InvariantCulture)));
        }
        written.Add(csv);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10().Colors;
        int k = 0;
        foreach (var g in points.GroupBy(p => p.Policy))
        {
            var pts = g.OrderBy(p => p.Value).ToList();
            var line = plot.Add.ScatterLine(pts.Select(p => Math.Log2(p.Value)).ToArray(), pts.Select(p => p.LatencyNs / 1e6).ToArray(), palette[k++ % palette.Length]);
            line.LegendText = g.Key;
            line.LineWidth = 2;
            line.MarkerSize = 6;
        }
        var ticks = points.Select(p => p.Value).Distinct().Order().Select(v => new Tick(Math.Log2(v), v.ToString(CultureInfo.InvariantCulture))).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Title(title);
        plot.XLabel(parameter);
        plot.YLabel("latency (ms)");
        plot.ShowLegend(Edge.Right);
        foreach (var (ext, save) in new (string, Action<string>)[] { ("png", f => plot.SavePng(f, 960, 520)), ("svg", f => plot.SaveSvg(f, 960, 520)) })
        {
            string f = Path.Combine(dir, "sweep." + ext);
            save(f);
            written.Add(f);
        }
        return written;
    }
}
