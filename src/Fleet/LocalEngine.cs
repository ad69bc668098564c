using System.Diagnostics;

namespace AsiTrace.Fleet;

/// <summary>
/// Runs the tasks on this machine, each in its own process (<c>asitrace fleet task</c>): as many at once as there are
/// cores, and never more than the memory the machine has free allows. Each task's memory is estimated before it starts
/// (<see cref="FleetEstimate"/>) and, once tasks have finished, at least the largest peak measured so far.
/// </summary>
public sealed class LocalEngine(int jobs) : IFleetEngine
{
    public string Name => "local";

    public void Run(FleetPlan plan, IReadOnlyList<int> indexes, int policies, FleetProgress progress)
    {
        long budget = (long)((FleetEstimate.AvailableMemory() ?? long.MaxValue / 2) * 0.8);
        long measured = 0, committed = 0;
        int running = 0;
        var gate = new object();
        var queue = new Queue<int>(indexes);
        var threads = new List<Thread>();
        while (true)
        {
            int index;
            long need;
            lock (gate)
            {
                if (queue.Count == 0) break;
                index = queue.Peek();
                need = Math.Max(FleetEstimate.MemoryBytes(plan.Traces[index], policies), measured);
                // One task always runs, however large: the machine is all it can have.
                while (running >= jobs || (running > 0 && committed + need > budget)) Monitor.Wait(gate);
                queue.Dequeue();
                running++;
                committed += need;
            }
            progress.Started();
            var t = new Thread(() =>
            {
                var record = RunOne(plan, index);
                lock (gate)
                {
                    running--;
                    committed -= need;
                    measured = Math.Max(measured, record.PeakRssBytes);
                    Monitor.PulseAll(gate);
                }
                progress.Finished(record.Status == "ok");
            }) { IsBackground = true, Name = "fleet task " + index };
            threads.Add(t);
            t.Start();
        }
        foreach (var t in threads) t.Join();
    }

    /// <summary>One task in a child process; a child that dies without its record gets one written here.</summary>
    static TaskRecord RunOne(FleetPlan plan, int index)
    {
        var psi = new ProcessStartInfo(plan.Command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in plan.Command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "fleet", "task", plan.PlanPath, index.ToString(System.Globalization.CultureInfo.InvariantCulture), "--engine", "local" }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new IOException($"could not start {plan.Command[0]}");
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string dir = plan.TraceDir(plan.Traces[index]);
        if (TaskRecord.TryLoad(dir) is { } r && r.OptionsSha256 == plan.OptionsSha256 && r.InputSha256 == plan.Traces[index].Sha256) return r;
        var t = plan.Traces[index];
        Directory.CreateDirectory(dir);
        var lost = new TaskRecord
        {
            Trace = t.Id, Input = t.Input, InputSha256 = t.Sha256, OptionsSha256 = plan.OptionsSha256, Status = "failed", ExitCode = p.ExitCode,
            Error = err.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? $"the task process exited with {p.ExitCode} and wrote no record",
            WallMs = sw.ElapsedMilliseconds, Engine = "local",
        };
        lost.Save(dir);
        return lost;
    }
}
