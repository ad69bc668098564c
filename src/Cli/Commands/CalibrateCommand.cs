using System.CommandLine;
using System.Diagnostics;
using AsiTrace.Cli.Output;
using AsiTrace.Ingest.Calibrate;
using AsiTrace.Model.Tlb;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace calibrate [-o costs.json]</c>: measures the constants this host lets a user-space program measure.</summary>
static class CalibrateCommand
{
    public static Command Build()
    {
        var output = new Option<string?>("--output", "-o") { Description = "costs JSON to write (replay --costs reads it); default: print it" };
        var partner = new Option<string[]>("--partner") { Description = "internal: run as the context-switch partner (FIFO_IN FIFO_OUT CPU plain|ibpb)", Arity = new ArgumentArity(4, 4), Hidden = true, AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("calibrate", "Measure on this host the cost constants user space can measure (page zeroing and copies, a tmpfs pread, TLB shootdowns by CPUs reached, context switches, IBPB where allowed); write the costs JSON replay --costs reads")
        {
            output, partner,
        };
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            if (pr.GetValue(partner) is [var r, var w, var cpu, var mode])
                return HostCalibrator.RunPartner(r, w, int.Parse(cpu), mode == "ibpb");
            return Run(pr.GetValue(output));
        }));
        return cmd;
    }

    /// <summary>Calibrates and writes (or prints) the JSON; also what <c>record</c> runs into its directory.</summary>
    public static int Run(string? output)
    {
        HostCalibrator.PartnerCommand = PartnerCommand;
        var sw = Stopwatch.StartNew();
        var ms = HostCalibrator.MeasureAll(step => Console.Error.WriteLine($"calibrate: {step} …"));
        string json = CalibrationJson.Write(ms, CpuModel(), KernelRelease(), DateTime.UtcNow);
        // What it wrote must be what --costs reads.
        _ = new CostModel().WithOverrides(json);
        if (output is null) Console.Out.WriteLine(json);
        else
        {
            using var f = new AtomicFile(output);
            using (var sw2 = new StreamWriter(f.Stream, leaveOpen: true)) sw2.Write(json);
            f.Commit();
        }
        foreach (var m in ms)
            Console.Error.WriteLine(m.Available ? $"  {m.Name,-22} {m.Median,10:N1} ns  ({m.Min:N1} … {m.Max:N1}, {m.Runs} runs)" : $"  {m.Name,-22} unavailable: {m.Unavailable}");
        Console.Error.WriteLine($"calibrated in {sw.Elapsed.TotalSeconds:F1} s{(output is null ? "" : $"; wrote {output}")}");
        return ExitCodes.Ok;
    }

    static ProcessStartInfo PartnerCommand(string[] args)
    {
        string self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { UseShellExecute = false };
        // Run through dotnet (tests, dotnet run): the assembly comes first.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(CalibrateCommand).Assembly.Location);
        psi.ArgumentList.Add("calibrate");
        psi.ArgumentList.Add("--partner");
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    static string KernelRelease()
    {
        try { return File.ReadAllText("/proc/sys/kernel/osrelease").Trim(); }
        catch (IOException) { return Environment.OSVersion.Version.ToString(); }
    }

    static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return "unknown CPU";
    }
}
