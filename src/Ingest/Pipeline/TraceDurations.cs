using System.Globalization;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>Durations of trace time as the command line writes them: a number with a unit, ns, us, ms, s or m.</summary>
public static class TraceDurations
{
    static readonly (string Unit, double Ns)[] Units = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9)];

    /// <summary>"250ms", "1s", "2m", "1500us" → nanoseconds. False without a unit, for a negative number, and past a year
    /// (a typo, and past 2^63 ns the cast would wrap negative).</summary>
    public static bool TryParse(string text, out long ns)
    {
        ns = 0;
        text = text.Trim();
        foreach (var (unit, mult) in Units)
        {
            if (!text.EndsWith(unit, StringComparison.Ordinal)) continue;
            // "ms" is not "m" + "s", nor "5ns" "5n" + "s".
            if (unit == "s" && (text.EndsWith("ns", StringComparison.Ordinal) || text.EndsWith("us", StringComparison.Ordinal) || text.EndsWith("ms", StringComparison.Ordinal))) continue;
            if (unit == "m" && text.EndsWith("ms", StringComparison.Ordinal)) continue;
            if (!double.TryParse(text[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || v * mult > 365 * 24 * 3600e9)
                return false;
            ns = (long)(v * mult);
            return true;
        }
        return false;
    }
}
