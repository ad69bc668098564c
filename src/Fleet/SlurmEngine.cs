using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AsiTrace.Fleet;

/// <summary>
/// Runs the tasks as one Slurm job array (<c>sbatch --array</c>), one task per trace, each asking for the memory and
/// time <see cref="FleetEstimate"/> gives the largest of them. Follows the job with <c>squeue</c> (accounting may be
/// off, so not <c>sacct</c>), reads each task's <c>fleet.json</c>, and submits again, with twice the memory it had, the tasks
/// that left no result or died (killed, out of memory, an internal error), up to <c>--retries</c> times. A task that
/// failed on its input (exit 2, 3 or 4) fails the same way again and is not retried.
/// </summary>
public sealed class SlurmEngine(int retries, TimeSpan poll, string? partition = null) : IFleetEngine
{
    public string Name => "slurm";

    public void Run(FleetPlan plan, IReadOnlyList<int> indexes, int policies, FleetProgress progress)
    {
        var pending = indexes.ToList();
        // What each task was last given: a task that left no result gets twice that (it may have run out).
        var given = new Dictionary<int, long>();
        for (int attempt = 1; pending.Count > 0 && attempt <= retries + 1; attempt++)
        {
            long memMb = pending.Max(i => given.TryGetValue(i, out long mb) ? 2 * mb
                : (long)Math.Ceiling(FleetEstimate.MemoryBytes(plan.Traces[i], policies) / (double)(1 << 20)));
            foreach (int i in pending) given[i] = memMb;
            long minutes = Math.Max(1, (pending.Max(i => FleetEstimate.Seconds(plan.Traces[i])) + 59) / 60);
            string script = WriteScript(plan, pending, memMb, minutes, attempt);
            string job = Sbatch(script);
            progress.Note($"slurm: job {job}, {pending.Count} task(s), --mem={memMb}M --time={minutes} (attempt {attempt})");
            foreach (var _ in pending) progress.Started();
            Follow(job, progress);
            var again = new List<int>();
            foreach (int i in pending)
            {
                var r = TaskRecord.TryLoad(plan.TraceDir(plan.Traces[i]));
                bool current = r is not null && r.OptionsSha256 == plan.OptionsSha256 && r.InputSha256 == plan.Traces[i].Sha256;
                bool final = current && (r!.Status == "ok" || r.ExitCode is 2 or 3 or 4);
                if (final) progress.Finished(r!.Status == "ok");
                else { again.Add(i); progress.Finished(false); }
            }
            pending = again;
        }
        foreach (int i in pending)
        {
            var t = plan.Traces[i];
            string dir = plan.TraceDir(t);
            if (TaskRecord.TryLoad(dir) is { Status: "failed" } r && r.OptionsSha256 == plan.OptionsSha256) continue;
            Directory.CreateDirectory(dir);
            new TaskRecord
            {
                Trace = t.Id, Input = t.Input, InputSha256 = t.Sha256, OptionsSha256 = plan.OptionsSha256, Status = "failed", ExitCode = 70,
                Error = $"no result after {retries + 1} Slurm attempt(s); see {Path.Combine(plan.OutDir, ".fleet")}/slurm-*_{i}.out", Engine = Name,
            }.Save(dir);
        }
    }

    string WriteScript(FleetPlan plan, List<int> indexes, long memMb, long minutes, int attempt)
    {
        string dir = Path.Combine(plan.OutDir, ".fleet");
        string path = Path.Combine(dir, $"job-{attempt}.sh");
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        sb.Append("#SBATCH --job-name=asitrace-fleet\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --array={string.Join(',', indexes)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --mem={memMb}M\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --time={minutes}\n");
        sb.Append("#SBATCH --cpus-per-task=1\n");
        if (partition is not null) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --partition={partition}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --output={Path.Combine(dir, "slurm-%A_%a.out")}\n");
        sb.Append("exec " + string.Join(' ', plan.Command.Select(Quote)) + " fleet task " + Quote(plan.PlanPath) + " \"$SLURM_ARRAY_TASK_ID\" --engine slurm\n");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    static string Sbatch(string script)
    {
        var (code, stdout, stderr) = Exec("sbatch", "--parsable", script);
        if (code != 0) throw new IOException($"sbatch {script} failed (exit {code}): {stderr.Trim()}");
        // --parsable prints "jobid" or "jobid;cluster".
        return stdout.Trim().Split(';')[0];
    }

    void Follow(string job, FleetProgress progress)
    {
        string last = "";
        while (true)
        {
            var (code, stdout, stderr) = Exec("squeue", "-h", "-j", job, "-o", "%T");
            // squeue forgets a finished job (and says "Invalid job id") once it has left the controller's memory.
            if (code != 0 && !stderr.Contains("Invalid job id", StringComparison.Ordinal)) throw new IOException($"squeue -j {job} failed (exit {code}): {stderr.Trim()}");
            var states = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (states.Length == 0) return;
            string now = string.Join(", ", states.GroupBy(s => s).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key.ToLowerInvariant()}"));
            if (now != last) progress.Note($"slurm: job {job}: {now}");
            last = now;
            Thread.Sleep(poll);
        }
    }

    static (int Code, string Out, string Err) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string o = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, o, err.Result);
        }
        catch (System.ComponentModel.Win32Exception e) { throw new IOException($"{file}: {e.Message} (is Slurm installed? --engine local runs here)"); }
    }
}
