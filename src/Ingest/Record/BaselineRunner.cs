using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Record;

/// <summary>
/// <c>record --baseline</c>: runs the command once without tracing and measures its CPU time — user and system time of
/// the command and every descendant it waited for (<c>getrusage(RUSAGE_CHILDREN)</c> across the run), so neither the
/// recorder nor anything else on the machine counts. Tracing slows what it measures (a 4 KiB FIO read took 1.8 times
/// longer with the default events here), so this is the workload's CPU time to compare a modelled overhead with; it
/// assumes the command does a fixed amount of work.
/// </summary>
public static class BaselineRunner
{
    public static BaselineRun Run(IReadOnlyList<string> argv)
    {
        double before = ChildrenCpuNs();
        var sw = Stopwatch.StartNew();
        var psi = new ProcessStartInfo(argv[0]) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new RecordException($"cannot run {argv[0]}");
        p.StandardOutput.ReadToEnd(); // the baseline run's output is not the recording's
        p.WaitForExit();
        sw.Stop();
        return new BaselineRun(ChildrenCpuNs() - before, sw.Elapsed.TotalSeconds);
    }

    [StructLayout(LayoutKind.Sequential)]
    struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    const int RUSAGE_CHILDREN = -1;
    [DllImport("libc", SetLastError = true)] static extern int getrusage(int who, out RUsage usage);

    /// <summary>CPU time of this process's children that have been waited for, ns.</summary>
    static double ChildrenCpuNs()
    {
        if (getrusage(RUSAGE_CHILDREN, out var u) != 0) throw new RecordException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        return (u.UtimeSec + u.StimeSec) * 1e9 + (u.UtimeUsec + u.StimeUsec) * 1e3;
    }
}
