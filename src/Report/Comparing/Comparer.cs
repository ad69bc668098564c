using AsiTrace.Replay.Results;

namespace AsiTrace.Report.Comparing;

/// <summary>
/// <c>asitrace compare</c>: the regression gate for allocator and model changes on stored traces. The inputs decide the
/// comparison: one trace replayed twice (input hashes equal) differs exactly, so the gate is the threshold; a corpus
/// (results directories matched by input hash) is compared trace by trace and by the geometric mean of the ratios with
/// a bootstrap interval; repeated recordings of one workload (hashes differ) are compared by a permutation test on the
/// runs' totals, and a gate fails only when the change passes its threshold and p &lt; α.
/// </summary>
public static class Comparer
{
    /// <param name="requireSameTrace">refuse (FormatException) unless both sides replayed the same trace.</param>
    public static Comparison Run(IReadOnlyList<ResultsSet> baseline, IReadOnlyList<ResultsSet> candidate, IReadOnlyList<Gate> gates,
        double alpha = 0.05, bool requireSameTrace = false)
    {
        var mode = ModeOf(baseline, candidate, requireSameTrace, out var notes);
        var cmp = new Comparison { Mode = mode, Alpha = alpha, BaseRuns = baseline.Count, CandidateRuns = candidate.Count };
        cmp.Notes.AddRange(notes);
        OneSideOnly(baseline[0], candidate[0], cmp.Notes);
        CostsDiffer(baseline[0], candidate[0], cmp.Notes);
        switch (mode)
        {
            case CompareMode.SameTrace: SameTrace(baseline[0], candidate[0], gates, cmp); break;
            case CompareMode.Corpus: Corpus(baseline, candidate, gates, cmp); break;
            default: Repeated(baseline, candidate, gates, cmp); break;
        }
        foreach (var g in gates)
            if (!cmp.Changes.Concat(cmp.PerTrace).Any(c => g.Applies(c.Policy, c.Metric)))
                throw new FormatException($"--fail-on '{g.Text}': no policy in both results has metric '{g.Metric}'");
        return cmp;
    }

    static CompareMode ModeOf(IReadOnlyList<ResultsSet> b, IReadOnlyList<ResultsSet> c, bool requireSameTrace, out List<string> notes)
    {
        notes = new();
        var bKeys = b.Select(s => s.InputKey).ToList();
        var cKeys = c.Select(s => s.InputKey).ToList();
        bool allMatched = b.Count == c.Count && bKeys.All(k => k is not null) && bKeys.Order().SequenceEqual(cKeys.Order()) && bKeys.Distinct().Count() == bKeys.Count;
        if (b.Count == 1 && c.Count == 1)
        {
            if (allMatched)
            {
                notes.Add("Same trace on both sides (equal input hashes): the replay is deterministic, so the difference is exact and no p-value is computed; a gate is its threshold.");
                return CompareMode.SameTrace;
            }
            if (requireSameTrace || bKeys[0] is null || cKeys[0] is null)
                throw new FormatException(bKeys[0] is null || cKeys[0] is null
                    ? "a results directory has no run.json: cannot tell whether both sides replayed the same trace"
                    : $"the two sides replayed different traces (input hashes {Short(bKeys[0])} and {Short(cKeys[0])}); compare replays of one stored trace, a corpus, or repeated recordings");
            notes.Add($"Different traces on the two sides (input hashes {Short(bKeys[0])} and {Short(cKeys[0])}): compared as repeated recordings with one run each.");
            return CompareMode.Repeated;
        }
        if (requireSameTrace) throw new FormatException("--same-trace: each side must be one results directory of the same trace");
        if (allMatched)
        {
            notes.Add($"A corpus of {b.Count} traces matched by input hash: per-trace changes are exact; the aggregate is the geometric mean of the ratios with a 95 % bootstrap interval.");
            return CompareMode.Corpus;
        }
        if (bKeys.Intersect(cKeys).Any(k => k is not null))
            throw new FormatException("some traces are on both sides and some on one side only: give a corpus (the same traces on both sides) or repeated recordings (different recordings on each side)");
        notes.Add("Different recordings on each side: run-to-run noise is real, so each gated metric gets a two-sided permutation test on the runs' totals.");
        return CompareMode.Repeated;
    }

    static string Short(string? key) => key is null ? "none" : key.Length > 12 ? key[..12] + "…" : key;

    /// <summary>(policy, metric) pairs both sides have, in the baseline's order.</summary>
    static IEnumerable<(string Policy, string Metric)> Common(ResultsSet b, ResultsSet c) =>
        b.Totals.Where(t => Metrics.IsKnown(t.Metric) && c.Has(t.Policy, t.Metric)).Select(t => (t.Policy, t.Metric)).Distinct();

    static void OneSideOnly(ResultsSet b, ResultsSet c, List<string> notes)
    {
        var onlyB = b.Policies.Except(c.Policies).ToList();
        var onlyC = c.Policies.Except(b.Policies).ToList();
        if (onlyB.Count > 0) notes.Add($"Policies only in the baseline (not compared): {string.Join(", ", onlyB)}.");
        if (onlyC.Count > 0) notes.Add($"Policies only in the candidate (not compared): {string.Join(", ", onlyC)}.");
        var common = b.Policies.Intersect(c.Policies).ToList();
        var metricsB = b.Totals.Where(t => common.Contains(t.Policy)).Select(t => t.Metric).ToHashSet();
        var metricsC = c.Totals.Where(t => common.Contains(t.Policy)).Select(t => t.Metric).ToHashSet();
        var mb = metricsB.Except(metricsC).Order().ToList();
        var mc = metricsC.Except(metricsB).Order().ToList();
        if (mb.Count > 0) notes.Add($"Metrics only in the baseline: {string.Join(", ", mb)}.");
        if (mc.Count > 0) notes.Add($"Metrics only in the candidate: {string.Join(", ", mc)}.");
    }

    static void CostsDiffer(ResultsSet b, ResultsSet c, List<string> notes)
    {
        var cb = b.Costs; var cc = c.Costs;
        var diff = cb.Keys.Union(cc.Keys).Order().Where(k => cb.GetValueOrDefault(k) != cc.GetValueOrDefault(k))
            .Select(k => $"{k} {cb.GetValueOrDefault(k) ?? "–"} → {cc.GetValueOrDefault(k) ?? "–"}").ToList();
        if (diff.Count > 0) notes.Add($"Cost constants differ (expected if that is the change compared): {string.Join("; ", diff)}.");
    }

    static void SameTrace(ResultsSet b, ResultsSet c, IReadOnlyList<Gate> gates, Comparison cmp)
    {
        foreach (var (policy, metric) in Common(b, c))
        {
            double vb = b.Total(policy, metric), vc = c.Total(policy, metric);
            var gate = gates.FirstOrDefault(g => g.Applies(policy, metric));
            cmp.Changes.Add(new MetricChange(policy, metric, vb, vc, gate, gate is not null && gate.Exceeded(vb, vc)));
        }
        // Where the difference arises: the intervals contributing most to each gated metric (or the CPU time).
        var watched = gates.Count > 0 ? gates.Select(g => g.Metric).Distinct().ToList() : [Metrics.EstimatedNs.Name];
        foreach (var metric in watched)
            foreach (var policy in b.Policies.Intersect(c.Policies))
                cmp.TopIntervals.AddRange(Intervals(b, c, policy, metric));
        var top = cmp.TopIntervals.Where(i => i.Delta != 0).OrderByDescending(i => Math.Abs(i.Delta)).Take(5).ToList();
        cmp.TopIntervals.Clear();
        cmp.TopIntervals.AddRange(top);
    }

    /// <summary>Per-interval increments of a cumulative series on both sides, aligned by timestamp.</summary>
    static IEnumerable<IntervalContribution> Intervals(ResultsSet b, ResultsSet c, string policy, string metric)
    {
        var sb = b.Series.Where(s => s.Policy == policy && s.Metric == metric).OrderBy(s => s.TsNs).ToList();
        var sc = c.Series.Where(s => s.Policy == policy && s.Metric == metric).ToDictionary(s => s.TsNs, s => s.Value);
        double prevB = 0, prevC = 0;
        // The first sample covers the interval before it, from the trace's start.
        long prevTs = sb.Count > 1 ? sb[0].TsNs - (sb[1].TsNs - sb[0].TsNs) : sb.Count > 0 ? sb[0].TsNs : 0;
        foreach (var p in sb)
        {
            if (!sc.TryGetValue(p.TsNs, out double vc)) continue;
            yield return new IntervalContribution(policy, metric, prevTs, p.TsNs, p.Value - prevB, vc - prevC);
            prevB = p.Value; prevC = vc; prevTs = p.TsNs;
        }
    }

    static void Corpus(IReadOnlyList<ResultsSet> b, IReadOnlyList<ResultsSet> c, IReadOnlyList<Gate> gates, Comparison cmp)
    {
        var byKey = c.ToDictionary(s => s.InputKey!);
        var pairs = b.Select(s => (Base: s, Cand: byKey[s.InputKey!])).ToList();
        foreach (var (policy, metric) in Common(b[0], c[0]))
        {
            var ratios = new List<double>();
            double sumB = 0, sumC = 0;
            foreach (var (sb, sc) in pairs)
            {
                if (!sb.Has(policy, metric) || !sc.Has(policy, metric)) continue;
                double vb = sb.Total(policy, metric), vc = sc.Total(policy, metric);
                sumB += vb; sumC += vc;
                var each = gates.FirstOrDefault(g => g.Each && g.Applies(policy, metric));
                cmp.PerTrace.Add(new MetricChange(policy, metric, vb, vc, each, each is not null && each.Exceeded(vb, vc),
                    Trace: Path.GetFileName(sb.Directory.TrimEnd('/'))));
                if (vb > 0 && vc > 0) ratios.Add(vc / vb);
                else if (vb == 0 && vc == 0) ratios.Add(1);
            }
            var gate = gates.FirstOrDefault(g => !g.Each && g.Applies(policy, metric));
            if (ratios.Count == 0) { cmp.Changes.Add(new MetricChange(policy, metric, sumB, sumC, gate, false)); continue; }
            var (mean, lo, hi) = Statistics.GeometricMean(ratios);
            bool regression = gate is not null && (mean - 1) * 100 > gate.Percent;
            cmp.Changes.Add(new MetricChange(policy, metric, sumB, sumC, gate, regression, Ratio: mean, RatioLow: lo, RatioHigh: hi));
        }
    }

    static void Repeated(IReadOnlyList<ResultsSet> b, IReadOnlyList<ResultsSet> c, IReadOnlyList<Gate> gates, Comparison cmp)
    {
        double smallest = Statistics.SmallestP(b.Count, c.Count);
        if (smallest >= cmp.Alpha)
            cmp.Notes.Add($"With {b.Count} and {c.Count} runs the permutation test cannot reach p < {cmp.Alpha} (the smallest possible p is {smallest:0.###}): no gate can fail. At least {Statistics.RunsNeeded(cmp.Alpha)} runs per side are needed.");
        foreach (var (policy, metric) in Common(b[0], c[0]))
        {
            var xb = b.Where(s => s.Has(policy, metric)).Select(s => s.Total(policy, metric)).ToList();
            var xc = c.Where(s => s.Has(policy, metric)).Select(s => s.Total(policy, metric)).ToList();
            if (xb.Count == 0 || xc.Count == 0) continue;
            double mb = xb.Average(), mc = xc.Average();
            var gate = gates.FirstOrDefault(g => g.Applies(policy, metric));
            double? p = gate is not null || mb != mc ? Statistics.PermutationTest(xb, xc) : null;
            bool regression = gate is not null && gate.Exceeded(mb, mc) && p < cmp.Alpha;
            cmp.Changes.Add(new MetricChange(policy, metric, mb, mc, gate, regression, PValue: p));
        }
    }
}
