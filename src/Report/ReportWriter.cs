using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AsiTrace.Replay.Results;
using CsvHelper;

namespace AsiTrace.Report;

/// <summary>
/// <c>asitrace report</c>: charts (PNG + SVG), <c>summary.md</c>, <c>totals.csv</c>, <c>series.csv</c> and one self-contained
/// <c>report.html</c> (SVG inline, heatmaps as embedded PNG, no network), all from a results directory.
/// </summary>
public static class ReportWriter
{
    /// <summary>Metrics the summary table shows per policy, with a label.</summary>
    static readonly (Metric Metric, string Label)[] Headline =
    [
        (Metrics.EstimatedNs, "CPU time (ms)"), (Metrics.LatencyNs, "initiator time (ms)"), (Metrics.AsiExits, Metrics.AsiExits.Name),
        (Metrics.KernelRangeFlushes, "kernel shootdowns"), (Metrics.IpisSent, "IPIs sent"), (Metrics.TlbMisses, "TLB misses"),
        (Metrics.DirectMapSplits1G, "1G splits"), (Metrics.DirectMapSplits2M, "2M splits"), (Metrics.PageTablePages, "page-table pages"),
        (Metrics.PageblockFlips, "pageblock flips"), (Metrics.UnmappedPageblocks, "unmapped pageblocks"), (Metrics.BytesZeroed, "bytes zeroed"),
        (Metrics.MermapLocalFlushes, "mermap flushes"), (Metrics.Extfrag, "fallbacks (extfrag)"),
    ];

    public static List<string> Write(ResultsSet r, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        var charts = Charts.DrawAll(r, Path.Combine(outDir, "plots"));
        written.AddRange(charts.SelectMany(c => new[] { c.PngPath, c.SvgPath }));
        string summary = Path.Combine(outDir, "summary.md");
        File.WriteAllText(summary, Summary(r));
        written.Add(summary);
        written.Add(Csv(Path.Combine(outDir, "totals.csv"), ["policy", "metric", "value", "count"],
            r.Totals.Select(t => new[] { t.Policy, t.Metric, t.Value.ToString("R", CultureInfo.InvariantCulture), Count(t.Count) })));
        written.Add(Csv(Path.Combine(outDir, "series.csv"), ["policy", "ts_ns", "metric", "value", "count"],
            r.Series.Select(t => new[] { t.Policy, t.TsNs.ToString(CultureInfo.InvariantCulture), t.Metric, t.Value.ToString("R", CultureInfo.InvariantCulture), Count(t.Count) })));
        written.Add(Csv(Path.Combine(outDir, "attribution.csv"), ["policy", "by", "key", "metric", "value", "count"],
            r.Attribution.Select(t => new[] { t.Policy, t.By, t.Key, t.Metric, t.Value.ToString("R", CultureInfo.InvariantCulture), Count(t.Count) })));
        string html = Path.Combine(outDir, "report.html");
        File.WriteAllText(html, Html(r, charts));
        written.Add(html);
        return written;
    }

    static string Count(long? c) => c is { } n ? n.ToString(CultureInfo.InvariantCulture) : "";

    static string Csv(string path, string[] header, IEnumerable<string[]> rows)
    {
        using var fs = File.Create(path);
        using var csv = CsvWriter.Create(fs, new CsvWriterOptions(), false);
        csv.WriteRecord(header);
        foreach (var row in rows) csv.WriteRecord(row);
        csv.Flush();
        return path;
    }

    static string Fmt(Metric metric, double v) => metric.Unit == "ns"
        ? (v / 1e6).ToString("N3", CultureInfo.InvariantCulture)
        : v.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>The headline savings, one sentence each, from the totals.</summary>
    public static List<string> Headlines(ResultsSet r)
    {
        var lines = new List<string>();
        double Ns(string p) => r.Total(p, Metrics.EstimatedNs);
        double Pct(double a, double b) => b == 0 ? 0 : (a / b - 1) * 100;
        var pols = r.Policies;
        double workload = pols.Count > 0 ? r.Total(pols[0], Metrics.WorkloadCpuNs) : 0;
        if (pols.Contains("noasi"))
            foreach (var p in pols.Where(p => p != "noasi"))
                lines.Add(OverheadLine(r, p, Ns(p) - Ns("noasi"), workload));
        foreach (var p in pols.Where(p => p.EndsWith("+mermap", StringComparison.Ordinal)))
        {
            string bare = p[..^"+mermap".Length];
            if (pols.Contains(bare) && Ns(bare) > Ns(p))
                lines.Add($"The mermap saves `{bare}` {(Ns(bare) - Ns(p)) / 1e6:N1} ms of CPU time{(workload > 0 ? $" ({(Ns(bare) - Ns(p)) / workload * 100:0.0#}% of the workload's)" : "")}: {r.Total(bare, Metrics.AsiExits) - r.Total(p, Metrics.AsiExits):N0} fewer asi_exits.");
        }
        if (pols.Contains("asi-rfc") && pols.Contains("asi-freetypes"))
        {
            // Same ASI runtime, different allocator and restricted map: what grouping sensitivity by pageblock changes.
            double d = Ns("asi-freetypes") - Ns("asi-rfc");
            lines.Add($"Grouping sensitivity by pageblock (`asi-freetypes` against `asi-rfc`, same ASI runtime) {(d <= 0 ? "saves" : "costs")} {Math.Abs(d) / 1e6:N1} ms of CPU time{(workload > 0 ? $" ({Math.Abs(d) / workload * 100:0.0##}% of the workload's)" : "")}: {r.Total("asi-freetypes", Metrics.PageblockFlips):N0} pageblock flips and {r.Total("asi-freetypes", Metrics.KernelRangeFlushes):N0} shootdowns against {r.Total("asi-rfc", Metrics.RestrictedMapSplits2M):N0} restricted-map splits and {r.Total("asi-rfc", Metrics.KernelRangeFlushes):N0} shootdowns.");
        }
        bool noneUnmapped = pols.Where(p => p is "unmapped" or "secretfree").Any(p => r.Has(p, Metrics.AllocationsUnmapped) && r.Total(p, Metrics.AllocationsUnmapped) == 0);
        if (noneUnmapped)
            lines.Add("No allocation was classified `unmapped` (the default rules never do: direct-map removal is a property of the user, e.g. guest_memfd), so `unmapped` and `secretfree` replay as `noasi` here; name the workload with a rule such as `--classify 'comm=firecracker:unmapped'`.");
        else if (pols.Contains("unmapped") && pols.Contains("secretfree") && r.Total("secretfree", Metrics.LatencyNs) > 0)
            lines.Add($"`__GFP_UNMAPPED` pools change the initiator time of direct-map removal by {Pct(r.Total("unmapped", Metrics.LatencyNs), r.Total("secretfree", Metrics.LatencyNs)):+0.0;-0.0}% against per-allocation unmapping (`secretfree`): {r.Total("unmapped", Metrics.KernelRangeFlushes):N0} vs {r.Total("secretfree", Metrics.KernelRangeFlushes):N0} shootdowns.");
        if (r.WindowStartNs is long ws && r.WindowEndNs is long we)
            lines.Add($"These figures cover {(ws - (r.TraceStartNs ?? ws)) / 1e9:0.###}–{(we - (r.TraceStartNs ?? ws)) / 1e9:0.###} s of the trace (replay --window); the model was replayed from the trace start, so it entered the window in the traced kernel's state.");
        if (r.ChartWindow is { } cw)
            lines.Add($"The charts are clipped to --window {cw.Text}; the totals and tables cover the whole replay (for a window's totals, replay with --window).");
        return lines;
    }

    /// <summary>One policy's cost in the workload's terms: its CPU time beyond <c>noasi</c>'s as a share of the
    /// workload's measured CPU time, per CPU-second and per kernel entry; "identical" when nothing differs.</summary>
    static string OverheadLine(ResultsSet r, string p, double extraNs, double workloadNs)
    {
        if (extraNs == 0 && r.Total(p, Metrics.AsiExits) == 0)
            return $"`{p}` replays identically to `noasi` on this trace: no asi_exit, no extra CPU time.";
        double entries = r.Total(p, Metrics.KernelEntries);
        string perEntry = entries > 0 ? $"; {extraNs / entries / 1e3:0.00} µs per kernel entry" : "";
        string exits = $"{r.Total(p, Metrics.AsiExits):N0} asi_exits, {r.Total(p, Metrics.KernelRangeFlushes):N0} kernel shootdowns";
        if (workloadNs <= 0) return $"`{p}` adds {extraNs / 1e6:N1} ms of CPU time ({exits}{perEntry}).";
        double pct = extraNs / workloadNs * 100;
        string range = "";
        if (r.Has(p, Metrics.OverheadLowPct) && r.Has(p, Metrics.OverheadHighPct))
        {
            var sensitive = r.Totals.Where(t => t.Policy == p && t.Metric.StartsWith("overhead_swing_", StringComparison.Ordinal) && t.Value > 0)
                .OrderByDescending(t => t.Value).Take(2).Select(t => t.Metric["overhead_swing_".Length..^"_pct".Length]).ToList();
            range = $" — {r.Total(p, Metrics.OverheadLowPct):0.0#}–{r.Total(p, Metrics.OverheadHighPct):0.0#}% over the cost constants' ranges"
                + (sensitive.Count > 0 ? $", most sensitive to {string.Join(" and ", sensitive)}" : "");
        }
        return $"`{p}` would add {pct:0.0#}% to this workload's CPU time{range} ({pct * 10:N1} ms per CPU-second{perEntry}; {extraNs / 1e6:N1} ms in all; {exits}).";
    }

    public static string Summary(ResultsSet r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# asitrace summary");
        sb.AppendLine();
        if (r.Run?.RootElement.TryGetProperty("inputs", out var inputs) == true)
        {
            // The trace first; the snapshot and recording files after it are summed up (run.json lists each with its hash).
            var all = inputs.EnumerateArray().ToList();
            if (all.Count > 0) sb.AppendLine($"Input: `{all[0].GetProperty("path").GetString()}` (sha256 {all[0].GetProperty("sha256").GetString()![..16]}…)");
            if (all.Count > 1) sb.AppendLine($"Also read: {all.Count - 1} snapshot and recording files (run.json lists each with its sha256)");
        }
        sb.AppendLine();
        sb.AppendLine("## Headlines");
        sb.AppendLine();
        foreach (var h in Headlines(r)) sb.AppendLine("- " + h);
        sb.AppendLine();
        sb.AppendLine("## Policies");
        sb.AppendLine();
        var pols = r.Policies;
        sb.AppendLine("| metric | " + string.Join(" | ", pols.Select(p => $"`{p}`")) + " |");
        sb.AppendLine("|---|" + string.Concat(pols.Select(_ => "---:|")));
        foreach (var (metric, label) in Headline)
            if (pols.Any(p => r.Total(p, metric) != 0))
                sb.AppendLine($"| {label} | " + string.Join(" | ", pols.Select(p => Fmt(metric, r.Total(p, metric)))) + " |");
        sb.AppendLine();
        sb.AppendLine("## Fidelity (noasi replay vs the trace)");
        sb.AppendLine();
        if (r.Fidelity.Count == 0) sb.AppendLine("No noasi replay in this run.");
        else
        {
            sb.AppendLine("| check | trace | model | error | target | verdict | basis |");
            sb.AppendLine("|---|---:|---:|---:|---:|---|---|");
            foreach (var f in r.Fidelity)
                sb.AppendLine($"| {f.Check} | {FidelityValue(f.Trace)} | {FidelityValue(f.Model)} | {FidelityError(f.RelativeError)} | {(f.Tolerance is { } t ? t.ToString("P0", CultureInfo.InvariantCulture) : "")} | {(f.Verdict == "fail" ? "**fail**" : f.Verdict)} | {f.Basis} |");
            sb.AppendLine();
            sb.AppendLine("A vacuous check could not have failed (nothing moved, or both counts within the small-count slack) and is not a pass; in-sample checks compare the model with figures it was seeded or anchored with (docs/model.md §9).");
        }
        sb.AppendLine();
        sb.AppendLine("## Anomalies, data loss and assumptions");
        sb.AppendLine();
        if (r.Run?.RootElement.TryGetProperty("result", out var res) == true)
        {
            long lost = res.TryGetProperty("lost_events", out var l) ? l.GetInt64() : 0;
            sb.AppendLine(lost > 0 ? $"- **{lost:N0} events were lost** while recording: the replay is missing their requests." : "- No events were lost.");
            if (res.TryGetProperty("anomalies", out var an))
                foreach (var a in an.EnumerateObject()) sb.AppendLine($"- anomaly `{a.Name}`: {a.Value.GetInt64():N0} (resolved)");
            if (res.TryGetProperty("ingest_counters", out var ic))
                foreach (var c in ic.EnumerateArray().Where(c => c.GetProperty("severity").GetString() != "info"))
                    sb.AppendLine($"- {c.GetProperty("severity").GetString()}: `{c.GetProperty("name").GetString()}` {c.GetProperty("value").GetInt64():N0}");
            if (res.TryGetProperty("assumptions", out var asm))
                foreach (var a in asm.EnumerateArray()) sb.AppendLine($"- assumption: {a.GetString()}");
        }
        return sb.ToString();
    }

    static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>Counts as integers; a distribution distance (below 1, not whole) with three decimals.</summary>
    static string FidelityValue(double v) => v == Math.Floor(v) ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.000", CultureInfo.InvariantCulture);

    static string FidelityError(double e) => double.IsFinite(e) ? e.ToString("P1", CultureInfo.InvariantCulture) : "n/a";

    public static string Html(ResultsSet r, List<ChartFile> charts)
    {
        var sb = new StringBuilder();
        sb.Append("""
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>asitrace report</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1040px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.info{}.error{background:#fff3cd}.data_loss{background:#f8d7da;font-weight:bold}
figure{margin:2em 0}figcaption{color:#555;font-size:90%}svg{max-width:100%;height:auto}
img.heat{image-rendering:pixelated;max-width:100%}code{background:#f4f4f4;padding:0 3px}
.hover{position:relative}.tip{position:absolute;top:4px;left:60px;background:#ffffffee;border:1px solid #999;padding:2px 6px;font-size:80%;pointer-events:none;white-space:pre}
</style></head><body>
<h1>asitrace report</h1>
""");
        // Contents first: the page holds a chart per policy and runs to thousands of pixels.
        sb.Append("<nav id=\"contents\"><h2>Contents</h2><ol><li><a href=\"#headlines\">Headlines</a></li><li><a href=\"#policies\">Policies</a></li>");
        foreach (var c in charts) sb.Append("<li><a href=\"#chart-").Append(E(c.Name)).Append("\">").Append(E(c.Title)).Append("</a></li>");
        if (r.Attribution.Count > 0) sb.Append("<li><a href=\"#attribution\">Where the cost comes from</a></li>");
        sb.Append("<li><a href=\"#fidelity\">Fidelity</a></li><li><a href=\"#run\">Run</a></li></ol></nav>");
        sb.Append("<h2 id=\"headlines\">Headlines</h2><ul>");
        foreach (var h in Headlines(r)) sb.Append("<li>").Append(E(h).Replace("`", "")).Append("</li>");
        sb.Append("</ul>");
        var pols = r.Policies;
        sb.Append("<h2 id=\"policies\">Policies</h2><table><tr><th>metric</th>");
        foreach (var p in pols) sb.Append("<th>").Append(E(p)).Append("</th>");
        sb.Append("</tr>");
        foreach (var (metric, label) in Headline)
            if (pols.Any(p => r.Total(p, metric) != 0))
            {
                sb.Append("<tr><td>").Append(E(label)).Append("</td>");
                foreach (var p in pols) sb.Append("<td>").Append(E(Fmt(metric, r.Total(p, metric)))).Append("</td>");
                sb.Append("</tr>");
            }
        sb.Append("</table>");
        foreach (var c in charts)
        {
            sb.Append("<figure id=\"chart-").Append(E(c.Name)).Append("\"><h3>").Append(E(c.Title)).Append("</h3>");
            if (c.Heatmap) sb.Append("<img class=\"heat\" alt=\"").Append(E(c.Title)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(File.ReadAllBytes(c.PngPath))).Append("\">");
            else if (c.Hover is { } hover)
                sb.Append("<div class=\"hover\" data-hover=\"").Append(E(hover)).Append("\">").Append(StripXmlHeader(File.ReadAllText(c.SvgPath)))
                    .Append("<div class=\"tip\" hidden></div></div>");
            else sb.Append(StripXmlHeader(File.ReadAllText(c.SvgPath)));
            sb.Append("<figcaption>").Append(E(c.Caption)).Append("</figcaption></figure>");
        }
        AttributionTables(sb, r);
        sb.Append("<h2 id=\"fidelity\">Fidelity</h2><table><tr><th>check</th><th>trace</th><th>model</th><th>error</th><th>target</th><th>verdict</th><th>basis</th></tr>");
        foreach (var f in r.Fidelity)
            sb.Append($"<tr><td>{E(f.Check)}</td><td>{FidelityValue(f.Trace)}</td><td>{FidelityValue(f.Model)}</td><td>{FidelityError(f.RelativeError)}</td><td>{(f.Tolerance is { } t ? t.ToString("P0", CultureInfo.InvariantCulture) : "")}</td><td>{E(f.Verdict)}</td><td>{E(f.Basis)}</td></tr>");
        sb.Append("</table>");
        sb.Append("<h2 id=\"run\">Run</h2>");
        if (r.Run is { } run)
        {
            var root = run.RootElement;
            if (root.TryGetProperty("inputs", out var inputs))
            {
                sb.Append("<table><tr><th>input</th><th>bytes</th><th>sha256</th></tr>");
                foreach (var i in inputs.EnumerateArray())
                    sb.Append($"<tr><td>{E(i.GetProperty("path").GetString())}</td><td>{i.GetProperty("bytes").GetInt64():N0}</td><td><code>{E(i.GetProperty("sha256").GetString())}</code></td></tr>");
                sb.Append("</table>");
            }
            if (root.TryGetProperty("result", out var res) && res.TryGetProperty("ingest_counters", out var ic))
            {
                sb.Append("<h3>Input counters</h3><table><tr><th>counter</th><th>severity</th><th>value</th></tr>");
                foreach (var c in ic.EnumerateArray())
                {
                    string sev = c.GetProperty("severity").GetString() ?? "info";
                    sb.Append($"<tr class=\"{E(sev)}\"><td>{E(c.GetProperty("name").GetString())}</td><td>{E(sev)}</td><td>{c.GetProperty("value").GetInt64():N0}</td></tr>");
                }
                sb.Append("</table>");
            }
            if (root.TryGetProperty("costs", out var costs))
            {
                sb.Append("<h3>Cost constants</h3><table><tr><th>constant</th><th>value</th><th>unit</th><th>source</th></tr>");
                foreach (var c in costs.EnumerateObject())
                {
                    if (c.Value.ValueKind == JsonValueKind.Object)
                        sb.Append($"<tr><td>{E(c.Name)}</td><td>{c.Value.GetProperty("value").GetDouble()}</td><td>{E(c.Value.GetProperty("unit").GetString())}</td><td style=\"text-align:left\">{E(c.Value.GetProperty("source").GetString())}{(c.Value.GetProperty("estimate").GetBoolean() ? " (estimate)" : "")}</td></tr>");
                    else sb.Append($"<tr><td>{E(c.Name)}</td><td colspan=\"3\" style=\"text-align:left\">{E(c.Value.ToString())}</td></tr>");
                }
                sb.Append("</table>");
            }
            if (root.TryGetProperty("options", out var opts)) sb.Append("<h3>Options</h3><pre>").Append(E(opts.ToString())).Append("</pre>");
        }
        // Time charts show the values under the pointer: each line's nearest point to the pointer's time (data inline).
        sb.Append("""
<script>
document.querySelectorAll('.hover').forEach(function (d) {
  var h = JSON.parse(d.dataset.hover), svg = d.querySelector('svg'), tip = d.querySelector('.tip');
  d.addEventListener('mousemove', function (ev) {
    var r = svg.getBoundingClientRect(), px = (ev.clientX - r.left) * h.w / r.width;
    if (px < h.left || px > h.right) { tip.hidden = true; return; }
    var x = h.xmin + (px - h.left) / (h.right - h.left) * (h.xmax - h.xmin), lines = [h.xlabel + ' ' + x.toFixed(3)];
    h.series.forEach(function (s) {
      var best = 0;
      for (var i = 1; i < s.x.length; i++) if (Math.abs(s.x[i] - x) < Math.abs(s.x[best] - x)) best = i;
      lines.push(s.name + ': ' + s.y[best].toLocaleString('en'));
    });
    tip.textContent = lines.join('\n'); tip.hidden = false;
  });
  d.addEventListener('mouseleave', function () { tip.hidden = true; });
  d.dataset.ready = '1';
});
</script>
""");
        sb.Append("<script>window.addEventListener('load',function(){var n=0,ok=0;document.querySelectorAll('img').forEach(function(i){n++;if(i.complete&&i.naturalWidth>0)ok++;});document.title='asitrace report: '+ok+'/'+n+' images, '+document.querySelectorAll('svg').length+' svg, '+document.querySelectorAll('.hover[data-ready]').length+' hover';});</script>");
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    const int TopN = 10;

    /// <summary>Per policy, the top contributors to its CPU time (and its extra over noasi) by task, gfp flags and call
    /// site, with their asi_exits.</summary>
    static void AttributionTables(StringBuilder sb, ResultsSet r)
    {
        if (r.Attribution.Count == 0) return;
        sb.Append("<h2 id=\"attribution\">Where the cost comes from</h2><p>Every cost of a replay is charged to the event that caused it: its task (comm, pid), its call site when the events were ingested with <code>--stacks</code>, and for allocations their gfp flags, order and migratetype. Each column sums to the policy's total; all of it is in <code>attribution.csv</code>.</p>");
        bool baseline = r.Policies.Contains("noasi");
        foreach (var policy in r.Policies)
        {
            string? against = baseline && policy != "noasi" ? "noasi" : null;
            foreach (var by in new[] { "comm", "gfp", "call_site" })
            {
                var top = AttributionTable.Top(r.Attribution, policy, by, Metrics.EstimatedNs.Name, TopN, against);
                if (top.Count == 0 || (by == "call_site" && top.All(t => t.Key == "(unknown)"))) continue;
                var exits = r.Attribution.Where(a => a.Policy == policy && a.By == by && a.Metric == Metrics.AsiExits.Name)
                    .ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
                sb.Append("<h3>").Append(E(policy)).Append(": top ").Append(TopN).Append(" by ").Append(E(by)).Append("</h3><table><tr><th>").Append(E(by))
                    .Append("</th><th>CPU time (ms)</th>").Append(against is null ? "" : "<th>extra over noasi (ms)</th>").Append("<th>asi_exits</th></tr>");
                foreach (var (key, value, b) in top)
                    sb.Append("<tr><td>").Append(E(key)).Append("</td><td>").Append((value / 1e6).ToString("N3", CultureInfo.InvariantCulture)).Append("</td>")
                        .Append(against is null ? "" : "<td>" + ((value - b) / 1e6).ToString("+#,##0.000;-#,##0.000;0.000", CultureInfo.InvariantCulture) + "</td>")
                        .Append("<td>").Append(exits.GetValueOrDefault(key).ToString("N0", CultureInfo.InvariantCulture)).Append("</td></tr>");
                sb.Append("</table>");
            }
        }
    }

    static string StripXmlHeader(string svg)
    {
        int i = svg.IndexOf("<svg", StringComparison.Ordinal);
        return i >= 0 ? svg[i..] : svg;
    }
}
