using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using AsiTrace.Ingest.Record;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace record [-o DIR] [--events SET] [--duration S] [--buffer-kb N] [-- COMMAND ...]</c>.</summary>
static class RecordCommand
{
    public static Command Build()
    {
        var output = new Option<string>("--output", "-o") { Description = "directory for trace.txt, snapshot-start/, snapshot-end/, stats/, record.json", DefaultValueFactory = _ => "asitrace-record" };
        var events = new Option<string?>("--events") { Description = "comma-separated changes to the default event set: +system/event adds, -system/event removes, a bare list replaces it" };
        var duration = new Option<double?>("--duration") { Description = "seconds to record (without a command: until Ctrl-C if not given)" };
        var bufferKb = new Option<int>("--buffer-kb") { Description = "per-CPU ring buffer size in KiB", DefaultValueFactory = _ => 65536 };
        var baseline = new Option<bool>("--baseline") { Description = "run COMMAND once untraced first and record its CPU time (/proc/stat): the denominator of the replay's overheads, free of tracing's slowdown (COMMAND should do a fixed amount of work)" };
        var noCalibrate = new Option<bool>("--no-calibrate") { Description = "do not measure this host's cost constants into DIR/costs.json (asitrace calibrate) before recording" };
        var command = new Argument<string[]>("command") { Description = "command to run while recording (after --)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("record", "Record the events the replay needs straight from tracefs (root), with /proc snapshots at start and end; restores every tracefs setting it touches")
        {
            output, events, duration, bufferKb, baseline, noCalibrate, command,
        };
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var set = EventSet(pr.GetValue(events), out string? error);
            if (error is not null) { Console.Error.WriteLine($"asitrace: {error}"); return ExitCodes.Usage; }
            if (pr.GetValue(bufferKb) is < 4 or > 16 << 20) { Console.Error.WriteLine("asitrace: --buffer-kb must be between 4 and 16777216"); return ExitCodes.Usage; }
            string[] argv = pr.GetValue(command) ?? [];
            var options = new RecordOptions { OutputDir = pr.GetValue(output)!, Events = set, BufferKb = pr.GetValue(bufferKb) };
            TracefsRecorder rec;
            try { rec = new TracefsRecorder(options); }
            catch (RecordException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
            using var _ = rec;
            // Ctrl-C, SIGTERM and SIGHUP stop the recording cleanly; the restore runs on the way out either way.
            var stop = new ManualResetEventSlim();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
            using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; stop.Set(); });
            if (pr.GetValue(baseline) && argv.Length == 0) { Console.Error.WriteLine("asitrace: --baseline needs a command to run"); return ExitCodes.Usage; }
            try
            {
                if (pr.GetValue(baseline))
                {
                    Console.Error.WriteLine($"baseline: running `{string.Join(' ', argv)}` once untraced …");
                    try { rec.Result.Baseline = BaselineRunner.Run(argv); }
                    catch (System.ComponentModel.Win32Exception e) { Console.Error.WriteLine($"asitrace: cannot run {argv[0]}: {e.Message}"); return ExitCodes.Usage; }
                    Console.Error.WriteLine($"baseline: {rec.Result.Baseline.CpuNs / 1e6:N0} ms CPU in {rec.Result.Baseline.WallS:F2} s");
                }
                if (!pr.GetValue(noCalibrate))
                {
                    Directory.CreateDirectory(options.OutputDir);
                    CalibrateCommand.Run(Path.Combine(options.OutputDir, "costs.json"));
                }
                rec.Prepare();
                foreach (var m in rec.Result.Missing) Console.Error.WriteLine($"note: this kernel has no event {m}; recording without it");
                rec.Snapshot("snapshot-start");
                Process? child = null;
                double? seconds = pr.GetValue(duration);
                var deadline = seconds is { } s ? DateTime.UtcNow.AddSeconds(s) : DateTime.MaxValue;
                // Nothing may escape this thread: an unhandled exception would end the process before tracefs is restored.
                // It turns tracing on itself, so that it is among the recorder's threads kept out of the trace, and the
                // command starts only once tracing is on.
                Exception? streamFailure = null;
                using var tracing = new ManualResetEventSlim();
                var streamer = new Thread(() =>
                {
                    try
                    {
                        rec.Start();
                        tracing.Set();
                        rec.Stream(() => stop.IsSet || DateTime.UtcNow >= deadline || (child is not null && child.HasExited));
                    }
                    catch (Exception e) { streamFailure = e; }
                    finally { tracing.Set(); }
                })
                { Name = "trace_pipe", IsBackground = true };
                streamer.Start();
                tracing.Wait();
                if (argv.Length > 0)
                {
                    var psi = new ProcessStartInfo(argv[0]) { UseShellExecute = false };
                    foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
                    try { child = Process.Start(psi); }
                    catch (System.ComponentModel.Win32Exception e) { stop.Set(); streamer.Join(); Console.Error.WriteLine($"asitrace: cannot run {argv[0]}: {e.Message}"); return ExitCodes.Usage; }
                    Console.Error.WriteLine($"recording while `{string.Join(' ', argv)}` runs (pid {child!.Id}) …");
                }
                else Console.Error.WriteLine(seconds is { } d ? $"recording for {d} s …" : "recording until Ctrl-C …");
                streamer.Join();
                if (child is not null && !child.HasExited) { child.Kill(entireProcessTree: true); child.WaitForExit(); }
                if (streamFailure is RecordException re) throw re;
                if (streamFailure is not null) throw new RecordException($"recording failed: {streamFailure.Message}");
                // On a full disk the end snapshot may not fit either; the trace kept so far is what matters.
                try
                {
                    rec.Snapshot("snapshot-end");
                    rec.WriteAllocatorStateAtEdges();
                    rec.ReadStats();
                    rec.WriteSummary(argv.Length > 0 ? string.Join(' ', argv) : null);
                }
                catch (IOException e) when (rec.Result.StoppedBecause is not null) { Console.Error.WriteLine($"note: {e.Message}"); }
            }
            catch (RecordException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
            finally { rec.Restore(); }
            var r = rec.Result;
            Console.Error.WriteLine($"recorded {r.LinesWritten:N0} events ({r.BytesWritten / 1e6:F1} MB; {r.Enabled.Count} event types enabled) in {r.Duration.TotalSeconds:F1} s into {Path.Combine(options.OutputDir, "trace.txt")}; tracefs restored");
            if (r.StoppedBecause is not null) { Console.Error.WriteLine($"asitrace: {r.StoppedBecause}"); return ExitCodes.IoError; }
            if (r.Lost > 0)
                Console.Error.WriteLine($"warning: {r.Lost:N0} events were lost (ring buffer full); record again with --buffer-kb {r.SuggestedBufferKb}");
            Console.Error.WriteLine($"next: asitrace replay {options.OutputDir} -o {options.OutputDir}/results");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    /// <summary>"+ipi/ipi_send_cpu,-sched/sched_switch" edits the default set; "kmem/mm_page_alloc,tlb/tlb_flush" replaces it.</summary>
    static List<string> EventSet(string? spec, out string? error)
    {
        error = null;
        var set = new List<string>(TracefsRecorder.DefaultEvents);
        if (string.IsNullOrWhiteSpace(spec)) return set;
        var items = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool edits = items.All(i => i[0] is '+' or '-');
        if (!edits) set.Clear();
        foreach (var item in items)
        {
            string name = item.TrimStart('+', '-');
            if (name.Split('/') is not [{ Length: > 0 }, { Length: > 0 }] || name.Contains("..")) { error = $"--events: '{item}' is not system/event"; return set; }
            if (item[0] == '-') set.Remove(name);
            else if (!set.Contains(name)) set.Add(name);
        }
        return set;
    }
}
