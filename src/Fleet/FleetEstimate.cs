using System.Globalization;

namespace AsiTrace.Fleet;

/// <summary>
/// What one trace's task needs, before it runs (docs/scaling.md): memory grows with the simulated machine and the
/// policies, time with the input.
/// </summary>
public static class FleetEstimate
{
    /// <summary>The replay's per-page state: 3.6 bytes per page of RAM per policy, measured (README, Limits; docs/scaling.md),
    /// plus the runtime and the reader's buffers.</summary>
    const double BytesPerPagePerPolicy = 3.6;
    const long BaseBytes = 200L << 20;
    /// <summary>Without a snapshot the zones are sized from the trace's pfns, up to <c>--max-ram</c> (64 GiB by default):
    /// the estimate takes the limit.</summary>
    const long DefaultRamWithoutSnapshot = 64L << 30;
    /// <summary>Input bytes replayed per second, an estimate with a wide margin (range 4–100 MB/s): this session measured
    /// 4.3 MB/s of zstd-compressed text on churn (0.9 M events/s) and 148 MB of events Parquet read twice in 56 s (5.3 MB/s per
    /// pass, six policies). Slurm kills a task past its time, so the estimate errs long; a lost task is retried.</summary>
    const double InputBytesPerSecond = 2e6;

    /// <summary>Peak memory of one task, bytes, with a quarter of headroom.</summary>
    public static long MemoryBytes(FleetTrace t, int policies)
    {
        long ram = SnapshotRam(t.Input) ?? DefaultRamWithoutSnapshot;
        return (long)((BaseBytes + ram / 4096.0 * BytesPerPagePerPolicy * Math.Max(policies, 1)) * 1.25);
    }

    /// <summary>Wall time of one task, seconds: two passes over the input plus a minute of start-up and report.</summary>
    public static long Seconds(FleetTrace t) => 60 + (long)(2 * InputBytes(t.Input) / InputBytesPerSecond);

    static long InputBytes(string input) =>
        File.Exists(input) ? new FileInfo(input).Length
        : Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    /// <summary>MemTotal of a recording's start snapshot, bytes.</summary>
    static long? SnapshotRam(string input)
    {
        string meminfo = Path.Combine(input, "snapshot-start", "meminfo");
        if (!File.Exists(meminfo)) return null;
        foreach (var line in File.ReadLines(meminfo))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal)
                && long.TryParse(line[9..].Trim().Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                return kb * 1024;
        return null;
    }

    /// <summary>MemAvailable of this machine, bytes (null without /proc).</summary>
    public static long? AvailableMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line[13..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return null;
    }
}
