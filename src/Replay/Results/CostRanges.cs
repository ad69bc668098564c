using AsiTrace.Model.Tlb;

namespace AsiTrace.Replay.Results;

/// <summary>
/// What the cost constants' ranges (docs/costs.md) do to the results. A policy's CPU time is the counts its ledger kept
/// times the constants, so the time at any other value of any constant is exact arithmetic on the same counts: no
/// replay. An overhead's range takes each constant to the end of its range that lowers (or raises) the policy's extra
/// over <c>noasi</c>; its swing per constant is how far that constant alone moves it across its range.
/// </summary>
public static class CostRanges
{
    /// <summary>The CPU time of a replay whose ledger counted <paramref name="counts"/>, at <paramref name="ns"/>.</summary>
    public static double CpuTimeAt(double[] counts, double[] ns)
    {
        double t = 0;
        for (int k = 0; k < counts.Length; k++) t += counts[k] * ns[k];
        return t;
    }

    /// <summary>The CPU time with one constant at another value (in its own unit).</summary>
    public static double CpuTimeWith(double[] counts, CostModel costs, CostConstant k, double value)
    {
        var ns = costs.NsVector();
        var c = costs.Get(k);
        ns[(int)k] = c.Unit == "cycles" ? value / costs.CpuGhz : value;
        return CpuTimeAt(counts, ns);
    }

    /// <summary>The extra CPU time of <paramref name="policy"/> over <paramref name="baseline"/>: its point value, its
    /// lowest and highest over the constants' ranges, and each constant's swing (high end minus low end), ns.</summary>
    public static (double Point, double Low, double High, double[] Swing) Extra(double[] policy, double[] baseline, CostModel costs)
    {
        var point = costs.NsVector();
        var low = costs.NsVector(c => c.Low);
        var high = costs.NsVector(c => c.High);
        double p = 0, lo = 0, hi = 0;
        var swing = new double[point.Length];
        for (int k = 0; k < point.Length; k++)
        {
            double d = policy[k] - baseline[k];
            p += d * point[k];
            lo += d * (d >= 0 ? low[k] : high[k]);
            hi += d * (d >= 0 ? high[k] : low[k]);
            swing[k] = Math.Abs(d) * (high[k] - low[k]);
        }
        return (p, lo, hi, swing);
    }
}
