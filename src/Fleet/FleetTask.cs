using System.Diagnostics;
using AsiTrace.Report;

namespace AsiTrace.Fleet;

/// <summary>
/// One trace of a plan, run in this process (<c>asitrace fleet task PLAN INDEX</c>): replay and report into its
/// <c>trace=&lt;id&gt;</c> directory, then <c>fleet.json</c>. The local engine and every Slurm task run exactly this, so
/// the two engines write the same results.
/// </summary>
public static class FleetTask
{
    /// <param name="invoke">runs one asitrace command line in this process and returns its exit code (the CLI's own).</param>
    public static TaskRecord Run(FleetPlan plan, int index, Func<string[], int> invoke, string engine)
    {
        if (index < 0 || index >= plan.Traces.Count) throw new ArgumentOutOfRangeException(nameof(index), $"task {index}: the plan has {plan.Traces.Count} traces");
        var t = plan.Traces[index];
        string dir = plan.TraceDir(t);
        // A fresh directory: what an earlier, failed or other-option run left there must not mix with these results.
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var sw = Stopwatch.StartNew();
        var stderr = new StringWriter();
        var saved = Console.Error;
        int code;
        Console.SetError(new TeeWriter(saved, stderr));
        try
        {
            code = invoke(["replay", t.Input, "-o", dir, .. plan.ReplayArgs]);
            if (code == 0) code = invoke(["report", dir]);
        }
        finally { Console.SetError(saved); }
        sw.Stop();
        File.WriteAllText(Path.Combine(dir, "stderr.txt"), stderr.ToString());
        string? error = null, headline = null;
        long events = 0;
        if (code == 0)
        {
            var set = ResultsSet.Load(dir);
            headline = ReportWriter.Headlines(set).FirstOrDefault();
            if (set.Run?.RootElement.TryGetProperty("result", out var res) == true && res.TryGetProperty("events", out var ev)) events = ev.GetInt64();
        }
        else
        {
            error = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("asitrace", StringComparison.Ordinal))
                ?? $"exit {code}";
            // Nothing half-written: only the record and the log of a failed task stay.
            foreach (var f in Directory.EnumerateFileSystemEntries(dir))
                if (Path.GetFileName(f) != "stderr.txt") { if (Directory.Exists(f)) Directory.Delete(f, true); else File.Delete(f); }
        }
        var record = new TaskRecord
        {
            Trace = t.Id, Input = t.Input, InputSha256 = t.Sha256, OptionsSha256 = plan.OptionsSha256, Status = code == 0 ? "ok" : "failed",
            ExitCode = code, Error = error, Events = events, WallMs = sw.ElapsedMilliseconds, PeakRssBytes = PeakRss(), Headline = headline, Engine = engine,
        };
        record.Save(dir);
        return record;
    }

    /// <summary>This process's peak resident set (VmHWM in /proc/self/status), bytes; 0 where there is no /proc.</summary>
    public static long PeakRss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    sealed class TeeWriter(TextWriter a, TextWriter b) : TextWriter
    {
        public override System.Text.Encoding Encoding => a.Encoding;
        public override void Write(char value) { a.Write(value); b.Write(value); }
        public override void Write(string? value) { a.Write(value); b.Write(value); }
        public override void WriteLine(string? value) { a.WriteLine(value); b.WriteLine(value); }
        public override void Flush() { a.Flush(); b.Flush(); }
    }
}
