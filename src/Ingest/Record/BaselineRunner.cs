using System.Diagnostics;
using AsiTrace.Ingest.Snapshot;

namespace AsiTrace.Ingest.Record;

/// <summary>
/// <c>record --baseline</c>: runs the command once without tracing and measures the busy time of all CPUs from
/// <c>/proc/stat</c> across the run. Tracing slows what it measures (a 4 KiB FIO read took 1.8 times longer with the
/// default events here), so this is the workload's CPU time to compare a modelled overhead with; it assumes the
/// command does a fixed amount of work and nothing else keeps the CPUs busy.
/// </summary>
public static class BaselineRunner
{
    public static BaselineRun Run(IReadOnlyList<string> argv)
    {
        long before = BusyTicks();
        var sw = Stopwatch.StartNew();
        var psi = new ProcessStartInfo(argv[0]) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new RecordException($"cannot run {argv[0]}");
        p.StandardOutput.ReadToEnd(); // the baseline run's output is not the recording's
        p.WaitForExit();
        sw.Stop();
        long after = BusyTicks();
        return new BaselineRun((after - before) * (1e9 / MachineSnapshot.UserHz), sw.Elapsed.TotalSeconds);
    }

    static long BusyTicks() => SnapshotParsers.StatBusyTicks(File.ReadAllText("/proc/stat"), "/proc/stat");
}
