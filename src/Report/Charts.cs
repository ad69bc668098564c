using System.Text.Json.Nodes;
using AsiTrace.Replay.Results;
using ScottPlot;

namespace AsiTrace.Report;

/// <summary>One chart written as PNG and SVG under plots/.</summary>
/// <param name="Hover">for a time chart, its lines' values and where its data area is (JSON), so the page can show the
/// values under the pointer; null otherwise.</param>
public sealed record ChartFile(string Name, string Title, string Caption, string PngPath, string SvgPath, bool Heatmap, string? Hover = null);

/// <summary>
/// The report's charts, drawn only from the results files (so any chart can be regenerated): cost per policy by cause,
/// shootdowns over time, direct-map composition, the physical-memory map, fragmentation, fidelity and the allocation mix.
/// </summary>
public static class Charts
{
    public static List<ChartFile> DrawAll(ResultsSet r, string plotsDir)
    {
        ReportFonts.Register();
        Directory.CreateDirectory(plotsDir);
        var charts = new ChartWriter(r, plotsDir);
        if (r.Policies.Count == 0) return charts.Written;
        charts.CostByCause();
        charts.CostVsNoasi();
        charts.ExtraCostByContributor();
        charts.ShootdownsOverTime();
        charts.DirectMapLeaves();
        charts.PageblockMaps();
        charts.FragmentationOverTime();
        charts.Fidelity();
        charts.AllocationMix();
        charts.OverheadTornado();
        return charts.Written;
    }
}

/// <summary>Draws each chart of <see cref="Charts"/> from one results set into one plots directory.</summary>
sealed class ChartWriter(ResultsSet r, string plotsDir)
{
    const int W = 960, H = 520;
    // Okabe and Ito's colour-blind-safe set (black last): lines stay apart under the common colour-vision deficiencies.
    static readonly Color[] Palette =
    [
        Color.FromHex("#0072B2"), Color.FromHex("#E69F00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"),
        Color.FromHex("#56B4E9"), Color.FromHex("#D55E00"), Color.FromHex("#F0E442"), Color.FromHex("#000000"),
    ];

    static readonly (Metric Metric, string Label)[] CostCauses =
    [
        (Metrics.CostZeroingNs, "zeroing"), (Metrics.CostCopyNs, "page copies"), (Metrics.CostTlbNs, "traced TLB flushes"),
        (Metrics.CostAsiTransitionsNs, "asi_exit/enter + flushes"), (Metrics.CostMermapNs, "mermap"),
        (Metrics.CostModelFlushesNs, "shootdowns (model)"), (Metrics.CostPageTablePagesNs, "page-table pages"),
        (Metrics.CostTlbMissesNs, "TLB misses"),
    ];

    static readonly (Metric Metric, string Label)[] ExitCauses =
    [
        (Metrics.AsiExitsPageCache, "asi_exits: page cache"), (Metrics.AsiExitsZeroing, "asi_exits: zeroing"),
        (Metrics.AsiExitsCow, "asi_exits: copy-on-write"), (Metrics.AsiExitsContextSwitch, "asi_exits: context switch"),
        (Metrics.AsiExitsOther, "asi_exits: other"),
    ];

    readonly IReadOnlyList<string> _policies = r.Policies;
    // Time axes start at the trace's first event (the first sample is one interval later); older results without it fall
    // back to the first sample.
    readonly double _t0 = r.TraceStartNs ?? (r.Series.Count > 0 ? r.Series.Min(s => s.TsNs) : 0);

    public List<ChartFile> Written { get; } = new();

    void Save(Plot p, string name, string title, string caption, bool heatmap = false, List<(string Name, double[] X, double[] Y)>? hover = null)
    {
        string png = Path.Combine(plotsDir, name + ".png"), svg = Path.Combine(plotsDir, name + ".svg");
        p.SavePng(png, W, H);
        p.SaveSvg(svg, W, H);
        Written.Add(new ChartFile(name, title, caption, png, svg, heatmap, hover is null ? null : HoverJson(p, hover)));
    }

    /// <summary>The values behind a time chart's lines and the pixel span of its data area at W×H, for the page's
    /// pointer readout (inline: the report needs no network). Long series keep every n-th point, at most 2,000.</summary>
    static string HoverJson(Plot p, List<(string Name, double[] X, double[] Y)> lines)
    {
        var rect = p.RenderManager.LastRender.DataRect;
        var limits = p.Axes.GetLimits();
        static JsonArray Nums(IEnumerable<double> v) => new(v.Select(x => (JsonNode?)JsonValue.Create(Math.Round(x, 6))).ToArray());
        var series = new JsonArray();
        foreach (var (name, x, y) in lines)
        {
            int step = Math.Max(1, x.Length / 2000);
            var idx = Enumerable.Range(0, x.Length).Where(i => i % step == 0 || i == x.Length - 1).ToArray();
            series.Add(new JsonObject { ["name"] = name, ["x"] = Nums(idx.Select(i => x[i])), ["y"] = Nums(idx.Select(i => y[i])) });
        }
        return new JsonObject
        {
            ["w"] = W, ["left"] = rect.Left, ["right"] = rect.Right, ["xmin"] = limits.Left, ["xmax"] = limits.Right,
            ["xlabel"] = "t (s)", ["series"] = series,
        }.ToJsonString();
    }

    /// <summary>Cost per policy, stacked by cause; the asi transitions split by what caused the exits.</summary>
    public void CostByCause()
    {
        // Colours that stay apart under colour-vision deficiencies: the other causes from Okabe and Ito's set, the
        // asi_exit causes as one family of blues from dark to light (they differ in lightness, not only in hue).
        Color[] others = [Color.FromHex("#E69F00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"), Color.FromHex("#D55E00"),
            Color.FromHex("#F0E442"), Color.FromHex("#000000"), Color.FromHex("#999999"), Color.FromHex("#56B4E9")];
        Color[] exits = [Color.FromHex("#08306B"), Color.FromHex("#2171B5"), Color.FromHex("#6BAED6"), Color.FromHex("#C6DBEF"), Color.FromHex("#DEEBF7")];
        var causes = new List<(string Label, Func<string, double> Ns, Color Color)>();
        int nextOther = 0;
        foreach (var (metric, label) in CostCauses)
        {
            if (metric != Metrics.CostAsiTransitionsNs) { causes.Add((label, pol => r.Total(pol, metric), others[nextOther++ % others.Length])); continue; }
            int e = 0;
            foreach (var (exitMetric, exitLabel) in ExitCauses)
                causes.Add((exitLabel, pol =>
                {
                    double all = r.Total(pol, Metrics.AsiExits);
                    return all == 0 ? 0 : r.Total(pol, metric) * r.Total(pol, exitMetric) / all;
                }, exits[e++ % exits.Length]));
        }
        var p = new Plot();
        var bars = new List<Bar>();
        for (int i = 0; i < _policies.Count; i++)
        {
            double y = 0;
            for (int c = 0; c < causes.Count; c++)
            {
                double v = causes[c].Ns(_policies[i]) / 1e6;
                if (v <= 0) continue;
                bars.Add(new Bar { Position = i, ValueBase = y, Value = y + v, FillColor = causes[c].Color });
                y += v;
            }
        }
        p.Add.Bars(bars);
        for (int c = 0; c < causes.Count; c++)
            if (_policies.Any(pol => causes[c].Ns(pol) > 0))
                p.Legend.ManualItems.Add(new LegendItem { LabelText = causes[c].Label, FillColor = causes[c].Color });
        PolicyTicks(p);
        p.Title("Modelled CPU time per policy, by cause");
        p.YLabel("CPU time (ms)");
        p.ShowLegend(Edge.Right);
        p.Axes.Margins(bottom: 0);
        Save(p, "cost_by_cause", "Cost per policy by cause",
            "Estimated CPU time of the replayed work under each policy (all CPUs), stacked by what it was spent on; asi_exit/enter transitions (with their IBPB/RSB/L1D/VERW flushes) split by what caused the exits. Baseline work (zeroing, copies, the trace's own TLB flushes) is in every bar.");
    }

    /// <summary>Each policy's CPU time relative to noasi.</summary>
    public void CostVsNoasi()
    {
        if (!_policies.Contains("noasi") || r.Total("noasi", Metrics.EstimatedNs) <= 0) return;
        var p = new Plot();
        double b = r.Total("noasi", Metrics.EstimatedNs);
        var values = _policies.Select(pol => (r.Total(pol, Metrics.EstimatedNs) / b - 1) * 100).ToArray();
        var bars = p.Add.Bars(values);
        for (int i = 0; i < bars.Bars.Count; i++) bars.Bars[i].FillColor = values[i] > 0 ? Colors.IndianRed : Colors.SeaGreen;
        PolicyTicks(p);
        p.Add.HorizontalLine(0, 1, Colors.Black);
        p.Title("CPU time relative to noasi");
        p.YLabel("change vs noasi (%)");
        Save(p, "cost_vs_noasi", "Cost relative to noasi", "Estimated CPU time of each policy against the noasi replay of the same trace, in percent.");
    }

    /// <summary>The tasks behind each policy's extra CPU time over noasi (attribution.parquet): the top contributors
    /// across the policies, one bar per policy.</summary>
    public void ExtraCostByContributor()
    {
        const int top = 8;
        if (r.Attribution.Count == 0 || !_policies.Contains("noasi")) return;
        var others = _policies.Where(p => p != "noasi").ToList();
        var keys = others.SelectMany(pol => AttributionTable.Top(r.Attribution, pol, "comm", Metrics.EstimatedNs.Name, top, "noasi"))
            .Where(t => t.Value - t.Baseline > 0)
            .GroupBy(t => t.Key).Select(g => (Key: g.Key, Max: g.Max(t => t.Value - t.Baseline)))
            .OrderByDescending(k => k.Max).ThenBy(k => k.Key, StringComparer.Ordinal).Take(top).Select(k => k.Key).ToList();
        if (keys.Count == 0) return;
        var p = new Plot();
        var bars = new List<Bar>();
        double width = 0.8 / Math.Max(others.Count, 1);
        for (int pi = 0; pi < others.Count; pi++)
        {
            var extra = AttributionTable.Top(r.Attribution, others[pi], "comm", Metrics.EstimatedNs.Name, int.MaxValue, "noasi")
                .ToDictionary(t => t.Key, t => (t.Value - t.Baseline) / 1e6, StringComparer.Ordinal);
            for (int k = 0; k < keys.Count; k++)
                bars.Add(new Bar { Position = k - 0.4 + width * (pi + 0.5), Value = extra.GetValueOrDefault(keys[k]), Size = width, FillColor = PolicyColor(others[pi]) });
            p.Legend.ManualItems.Add(new LegendItem { LabelText = others[pi], FillColor = PolicyColor(others[pi]) });
        }
        p.Add.Bars(bars);
        p.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(keys.Select((k, i) => new Tick(i, k.Length > 18 ? k[..17] + "…" : k)).ToArray());
        p.Axes.Bottom.MajorTickStyle.Length = 0;
        p.Axes.Bottom.TickLabelStyle.Rotation = 20;
        p.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        p.Axes.Bottom.MinimumSize = 70;
        p.Add.HorizontalLine(0, 1, Colors.Black);
        p.HideGrid();
        p.Title("Extra CPU time over noasi, by task");
        p.YLabel("extra CPU time (ms)");
        p.ShowLegend(Edge.Right);
        Save(p, "extra_cost_by_comm", "Extra cost by task",
            "Each policy's modelled CPU time beyond noasi's, split by the task (comm) whose event or allocation caused it (attribution.parquet, by = comm): the top contributors across the policies.");
    }

    double Sec(long ts) => (ts - _t0) / 1e9;

    void Lines(string name, string title, string caption, string ylabel, Func<string, (double[] X, double[] Y)?> data)
    {
        var p = new Plot();
        int drawn = 0;
        var hover = new List<(string, double[], double[])>();
        foreach (var (names, x, y) in GroupIdentical(data))
        {
            hover.Add((string.Join(" = ", names), x, y));
            var line = p.Add.ScatterLine(x, y, PolicyColor(names[0]));
            line.LegendText = string.Join(" = ", names);
            line.LineWidth = 2;
            drawn++;
        }
        if (drawn == 0) return;
        p.Title(title);
        p.XLabel("trace time (s)");
        p.YLabel(ylabel);
        p.ShowLegend(Edge.Right);
        Save(p, name, title, caption, hover: hover);
    }

    (double[] X, double[] Y)? SeriesOf(string policy, Metric metric, Func<double, double>? f = null)
    {
        var pts = r.Series.Where(s => s.Policy == policy && s.Metric == metric.Name).OrderBy(s => s.TsNs).ToList();
        if (pts.Count == 0) return null;
        return (pts.Select(s => Sec(s.TsNs)).ToArray(), pts.Select(s => f is null ? s.Value : f(s.Value)).ToArray());
    }

    public void ShootdownsOverTime() =>
        Lines("shootdowns_over_time", "TLB shootdown IPIs over time", "IPIs sent by the model's kernel-range flushes (cumulative), one line per policy.",
            "IPIs sent (cumulative)", pol => SeriesOf(pol, Metrics.IpisSent));

    /// <summary>Leaves of the direct map and ASI's restricted map, by size: the 4K and 2M leaves are what splits made.</summary>
    static readonly (string Label, Metric[] Metrics, LinePattern Pattern)[] LeafCounts =
    [
        ("4K leaves", [Metrics.DirectMap4kPages, Metrics.RestrictedMap4kPages], LinePattern.Solid),
        ("2M leaves", [Metrics.DirectMap2mPages, Metrics.RestrictedMap2mPages], LinePattern.Dashed),
    ];

    /// <summary>One chart for every policy: how many 4K and 2M leaves the direct and restricted maps hold over time, on a
    /// log scale (a few hundred split leaves against gigabytes of 1G leaves vanish on a linear one).</summary>
    public void DirectMapLeaves()
    {
        var p = new Plot();
        int drawn = 0;
        var leafHover = new List<(string, double[], double[])>();
        double top = 0;
        foreach (var (label, metrics, pattern) in LeafCounts)
        {
            foreach (var (names, x, y) in GroupIdentical(pol =>
            {
                (double[] X, double[] Y)? sum = null;
                foreach (var m in metrics)
                {
                    if (SeriesOf(pol, m) is not { } d) continue;
                    if (sum is null) sum = (d.X, d.Y.ToArray());
                    else if (sum.Value.X.Length == d.X.Length) for (int i = 0; i < d.Y.Length; i++) sum.Value.Y[i] += d.Y[i];
                }
                return sum is { } s && s.Y.Any(v => v > 0) ? s : null;
            }))
            {
                leafHover.Add(($"{string.Join(" = ", names)}: {label}", x, y));
                var logY = y.Select(v => Math.Log10(Math.Max(v, 1))).ToArray();
                top = Math.Max(top, logY.Max());
                var line = p.Add.ScatterLine(x, logY, PolicyColor(names[0]));
                line.LegendText = $"{string.Join(" = ", names)}: {label}";
                line.LinePattern = pattern;
                line.LineWidth = 2;
                drawn++;
            }
        }
        if (drawn == 0) return;
        LogAxis(p.Axes.Left, top);
        p.Title("Direct and restricted map: leaves by size");
        p.XLabel("trace time (s)");
        p.YLabel("leaves (log scale)");
        p.ShowLegend(Edge.Right);
        Save(p, "direct_map_leaves", "Direct map: split leaves",
            "Leaves of the direct map plus ASI's restricted map: 4 KiB leaves solid, 2 MiB leaves dashed, on a log scale. Splits of 2 MiB and 1 GiB mappings (CPA) make them; policies with identical counts share a line.", hover: leafHover);
    }

    /// <summary>A log₁₀ axis for data already in log₁₀ (plus <paramref name="shift"/>): ticks at the powers of ten up to
    /// <paramref name="top"/>, labelled with the counts.</summary>
    static void LogAxis(IAxis axis, double top, int shift = 0)
    {
        int decades = Math.Max(1, (int)Math.Ceiling(top - shift));
        var ticks = Enumerable.Range(0, decades + 1).Select(k => new Tick(k + shift, Math.Pow(10, k).ToString("N0", System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
    }

    /// <summary>Each policy's series, policies with identical series together: one line, named for all of them, instead
    /// of lines drawn over each other. Policies without data are left out.</summary>
    List<(List<string> Names, double[] X, double[] Y)> GroupIdentical(Func<string, (double[] X, double[] Y)?> data)
    {
        var groups = new List<(List<string> Names, double[] X, double[] Y)>();
        foreach (var pol in _policies)
        {
            if (data(pol) is not { } d || d.X.Length == 0) continue;
            int same = groups.FindIndex(g => g.X.AsSpan().SequenceEqual(d.X) && g.Y.AsSpan().SequenceEqual(d.Y));
            if (same >= 0) groups[same].Names.Add(pol);
            else groups.Add(([pol], d.X, d.Y));
        }
        return groups;
    }

    /// <summary>A policy's line colour: its place in the run's policy list, so it keeps its colour across charts.</summary>
    Color PolicyColor(string policy)
    {
        int i = 0;
        while (i < _policies.Count && _policies[i] != policy) i++;
        return Palette[i % Palette.Length];
    }

    /// <summary>The physical-memory map heatmaps of the freetype policies.</summary>
    public void PageblockMaps()
    {
        foreach (var pol in r.Pageblocks.Select(x => x.Policy).Distinct())
        {
            var cells = r.Pageblocks.Where(x => x.Policy == pol).ToList();
            var times = cells.Select(c => c.TsNs).Distinct().Order().ToList();
            int buckets = cells.Max(c => c.Bucket) + 1;
            var grid = new double[buckets, times.Count];
            var index = times.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
            foreach (var c in cells) grid[buckets - 1 - c.Bucket, index[c.TsNs]] = c.Flagged;
            var p = new Plot();
            var hm = p.Add.Heatmap(grid);
            // Columns on the trace's time axis: sample i covers the interval that ends at its time.
            double step = times.Count > 1 ? Sec(times[1]) - Sec(times[0]) : Math.Max(Sec(times[0]), 1e-9);
            hm.Extent = new ScottPlot.CoordinateRect(Sec(times[0]) - step, Sec(times[^1]), 0, buckets);
            hm.Colormap = new ScottPlot.Colormaps.Viridis();
            hm.Smooth = false;
            hm.ManualRange = new ScottPlot.Range(0, 1);
            p.Add.ColorBar(hm);
            string flag = pol.StartsWith("unmapped") ? "unmapped" : "sensitive";
            p.Title($"Physical memory by pageblock over time: {pol} (fraction {flag})");
            p.XLabel("trace time (s)");
            p.YLabel("pageblocks, low pfn at the bottom");
            Save(p, "pageblock_map_" + Safe(pol), $"Physical-memory map: {pol}",
                $"Each column is a sample interval of trace time; each row a bucket of pageblocks in pfn order; colour = fraction of the bucket's pageblocks that are {flag}.", heatmap: true);
        }
    }

    public void FragmentationOverTime() =>
        Lines("fragmentation_over_time", "Free memory in blocks of 2 MiB or more", "Share of free pages that sit in free blocks of pageblock order or more, per policy.",
            "free in ≥ 2 MiB blocks / free (%)", pol =>
            {
                var big = SeriesOf(pol, Metrics.FreePagesIn2mBlocks);
                var all = SeriesOf(pol, Metrics.FreePages);
                if (big is null || all is null || big.Value.X.Length != all.Value.X.Length) return null;
                return (big.Value.X, big.Value.Y.Select((v, i) => all.Value.Y[i] > 0 ? 100 * v / all.Value.Y[i] : 0).ToArray());
            });

    /// <summary>The tornado chart: how far each cost constant alone, across its range, moves the headline overhead of the
    /// policy with the largest one; largest swing on top.</summary>
    public void OverheadTornado()
    {
        var withRange = _policies.Where(p => r.Has(p, Metrics.OverheadLowPct) && r.Total(p, Metrics.OverheadPct) > 0).ToList();
        if (withRange.Count == 0) return;
        string pol = withRange.OrderByDescending(p => r.Total(p, Metrics.OverheadPct)).First();
        var swings = r.Totals.Where(t => t.Policy == pol && t.Metric.StartsWith("overhead_swing_", StringComparison.Ordinal) && t.Value > 0)
            .OrderByDescending(t => t.Value).Take(10).OrderBy(t => t.Value)
            .Select(t => (Name: t.Metric["overhead_swing_".Length..^"_pct".Length], t.Value)).ToList();
        if (swings.Count == 0) return;
        var p = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int i = 0; i < swings.Count; i++)
        {
            bars.Add(new Bar { Position = i, Value = swings[i].Value, FillColor = Colors.SteelBlue, Orientation = Orientation.Horizontal });
            ticks.Add(new Tick(i, swings[i].Name));
        }
        p.Add.Bars(bars);
        p.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        p.Axes.Left.MajorTickStyle.Length = 0;
        p.Title($"{pol}: +{r.Total(pol, Metrics.OverheadPct):0.0#}% CPU, {r.Total(pol, Metrics.OverheadLowPct):0.0#}–{r.Total(pol, Metrics.OverheadHighPct):0.0#}% over the constants' ranges");
        p.XLabel("swing of the overhead across the constant's range (points)");
        p.Axes.Margins(left: 0);
        Save(p, "overhead_tornado", $"Sensitivity: {pol}",
            "Each bar is how far the overhead moves when that one constant goes from the low to the high end of its range (docs/costs.md), the others at their point values; the counts come from the replay, so no replay is repeated.");
    }

    /// <summary>Fidelity: each check's signed error in percent, with its target band shaded, so a miss of a few percent
    /// shows against a 1 % target as clearly as a large one against 10 %.</summary>
    public void Fidelity()
    {
        var checks = r.Fidelity.Where(f => f.Trace > 0).ToList();
        if (checks.Count == 0) return;
        var p = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        double widest = 0;
        for (int i = 0; i < checks.Count; i++)
        {
            double pos = checks.Count - 1 - i;
            double error = 100 * (checks[i].Model - checks[i].Trace) / checks[i].Trace;
            if (checks[i].Tolerance is { } t)
            {
                var band = p.Add.Rectangle(-100 * t, 100 * t, pos - 0.45, pos + 0.45);
                band.FillStyle.Color = Colors.Gray.WithAlpha(0.25);
                band.LineStyle.Width = 0;
                widest = Math.Max(widest, 100 * t);
            }
            var color = checks[i].Verdict switch { "fail" => Colors.IndianRed, "pass" => Colors.SeaGreen, _ => Colors.SteelBlue };
            bars.Add(new Bar { Position = pos, Value = error, FillColor = color, Orientation = Orientation.Horizontal, Size = 0.6 });
            ticks.Add(new Tick(pos, $"{checks[i].Check} ({checks[i].Trace:N0})"));
            widest = Math.Max(widest, Math.Abs(error));
        }
        p.Add.Bars(bars);
        p.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        p.Axes.Left.MajorTickStyle.Length = 0;
        var zero = p.Add.VerticalLine(0, 1.5f, Colors.Black);
        zero.LinePattern = LinePattern.Dashed;
        p.Legend.ManualItems.Add(new LegendItem { LabelText = "pass", FillColor = Colors.SeaGreen });
        p.Legend.ManualItems.Add(new LegendItem { LabelText = "fail", FillColor = Colors.IndianRed });
        p.Legend.ManualItems.Add(new LegendItem { LabelText = "vacuous or reported", FillColor = Colors.SteelBlue });
        p.Legend.ManualItems.Add(new LegendItem { LabelText = "target band", FillColor = Colors.Gray.WithAlpha(0.25) });
        p.ShowLegend(Edge.Right);
        p.Title("Fidelity: the noasi model's error against what the kernel did");
        p.XLabel("(model − trace) ÷ trace (%) — 0 is exact; trace value in brackets");
        double limit = Math.Max(2, widest * 1.15);
        p.Axes.SetLimitsX(-limit, limit);
        Save(p, "fidelity", "Fidelity", "Each check's signed error in percent of the trace's figure (events counted in the trace, or the end snapshot), with its target band shaded: green pass, red fail, blue vacuous or reported without a target.");
    }

    /// <summary>Allocation requests by order and migratetype, stacked by class.</summary>
    public void AllocationMix()
    {
        if (r.Mix.Count == 0) return;
        var p = new Plot();
        var cats = r.Mix.GroupBy(m => (m.Order, m.Migratetype)).OrderBy(g => g.Key.Order).ThenBy(g => g.Key.Migratetype).ToList();
        string[] classes = ["nonsensitive", "sensitive", "unmapped"];
        Color[] colors = [Colors.SteelBlue, Colors.IndianRed, Colors.DarkOrange];
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        double top = 0;
        // Counts span decades (order-0 movable against a handful of order-8 requests): one bar per class side by side,
        // on a log scale, rather than a linear stack where the small ones vanish.
        for (int i = 0; i < cats.Count; i++)
        {
            for (int c = 0; c < classes.Length; c++)
            {
                double v = cats[i].Where(m => m.Class == classes[c]).Sum(m => (double)m.Requests);
                if (v <= 0) continue;
                double logV = Math.Log10(v) + 1; // 1 request stands one step above the axis
                top = Math.Max(top, logV);
                bars.Add(new Bar { Position = i + (c - 1) * 0.28, Value = logV, FillColor = colors[c], Size = 0.26 });
            }
            ticks.Add(new Tick(i, $"o{cats[i].Key.Order} {MigratetypeNames.Of(cats[i].Key.Migratetype)}"));
        }
        p.Add.Bars(bars);
        LogAxis(p.Axes.Left, top, shift: 1);
        p.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        if (cats.Count > 6)
        {
            p.Axes.Bottom.TickLabelStyle.Rotation = 30;
            p.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            p.Axes.Bottom.MinimumSize = 80;
        }
        for (int c = 0; c < classes.Length; c++)
            if (r.Mix.Any(m => m.Class == classes[c])) p.Legend.ManualItems.Add(new LegendItem { LabelText = classes[c], FillColor = colors[c] });
        p.ShowLegend(Edge.Right);
        p.Title("Allocation mix: order × migratetype × sensitivity");
        p.YLabel("allocation requests (log scale)");
        p.Axes.Margins(bottom: 0);
        Save(p, "allocation_mix", "Allocation mix", "Allocation requests of the trace by order and migratetype, one bar per class the classifier gave them, on a log scale.");
    }

    static string Safe(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '_'));

    void PolicyTicks(Plot p)
    {
        var ticks = _policies.Select((pol, i) => new Tick(i, pol)).ToArray();
        p.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        p.Axes.Bottom.MajorTickStyle.Length = 0;
        // Six policy names side by side overlap (asi-freetypes+mermap): slant them.
        if (_policies.Count > 4)
        {
            p.Axes.Bottom.TickLabelStyle.Rotation = 20;
            p.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            p.Axes.Bottom.MinimumSize = 70;
        }
        p.HideGrid();
    }
}
