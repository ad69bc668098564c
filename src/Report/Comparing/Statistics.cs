namespace AsiTrace.Report.Comparing;

/// <summary>The tests the comparisons use: a two-sided permutation test of the difference of means (exact where the
/// splits can be enumerated, seeded Monte Carlo otherwise) and a bootstrap interval of the geometric mean of ratios.</summary>
public static class Statistics
{
    /// <summary>Two-sided permutation test of the difference of means; seeded, so the same inputs give the same p.</summary>
    public static double PermutationTest(IReadOnlyList<double> x, IReadOnlyList<double> y, int permutations = 10_000, int seed = 12345)
    {
        var all = x.Concat(y).ToArray();
        double observed = Math.Abs(x.Average() - y.Average());
        if (Binomial(all.Length, x.Count) <= permutations) return ExactPermutationTest(all, x.Count, observed);
        var rng = new Random(seed);
        int extreme = 0;
        for (int p = 0; p < permutations; p++)
        {
            for (int i = all.Length - 1; i > 0; i--) { int j = rng.Next(i + 1); (all[i], all[j]) = (all[j], all[i]); }
            if (Math.Abs(Mean(all, 0, x.Count) - Mean(all, x.Count, all.Length)) >= observed - 1e-12 * Math.Max(1, observed)) extreme++;
        }
        return (extreme + 1.0) / (permutations + 1.0);
    }

    /// <summary>Every split of the pooled values into groups of the two sizes.</summary>
    static double ExactPermutationTest(double[] all, int n, double observed)
    {
        long extreme = 0, total = 0;
        var pick = new int[n];
        for (int i = 0; i < n; i++) pick[i] = i;
        double sum = all.Sum();
        while (true)
        {
            double s = 0;
            foreach (int i in pick) s += all[i];
            double diff = Math.Abs(s / n - (sum - s) / (all.Length - n));
            if (diff >= observed - 1e-12 * Math.Max(1, observed)) extreme++;
            total++;
            int k = n - 1;
            while (k >= 0 && pick[k] == all.Length - n + k) k--;
            if (k < 0) break;
            pick[k]++;
            for (int j = k + 1; j < n; j++) pick[j] = pick[j - 1] + 1;
        }
        return (double)extreme / total;
    }

    /// <summary>The smallest p a permutation test of groups of these sizes can give (all values distinct).</summary>
    public static double SmallestP(int n, int m) => (n == m ? 2.0 : 1.0) / Binomial(n + m, n);

    /// <summary>Runs per side the permutation test needs to reach p &lt; <paramref name="alpha"/>.</summary>
    public static int RunsNeeded(double alpha)
    {
        for (int n = 1; n < 64; n++) if (SmallestP(n, n) < alpha) return n;
        return 64;
    }

    public static double Binomial(int n, int k)
    {
        double r = 1;
        for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
        return r;
    }

    static double Mean(double[] a, int from, int to)
    {
        double s = 0;
        for (int i = from; i < to; i++) s += a[i];
        return s / (to - from);
    }

    /// <summary>Geometric mean of <paramref name="ratios"/> and its percentile bootstrap interval (seeded).</summary>
    public static (double Mean, double Low, double High) GeometricMean(IReadOnlyList<double> ratios, double confidence = 0.95, int resamples = 10_000, int seed = 12345)
    {
        var logs = ratios.Select(r => Math.Log(r)).ToArray();
        double mean = Math.Exp(logs.Average());
        if (logs.Length < 2) return (mean, mean, mean);
        var rng = new Random(seed);
        var means = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double s = 0;
            for (int i = 0; i < logs.Length; i++) s += logs[rng.Next(logs.Length)];
            means[r] = s / logs.Length;
        }
        Array.Sort(means);
        double tail = (1 - confidence) / 2;
        return (mean, Math.Exp(means[(int)(tail * (resamples - 1))]), Math.Exp(means[(int)((1 - tail) * (resamples - 1))]));
    }
}
