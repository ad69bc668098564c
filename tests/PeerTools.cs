using System.Diagnostics;

namespace AsiTrace.Tests;

/// <summary>The tools users trust (trace-cmd, perf): located on PATH and run to compare against.</summary>
static class PeerTools
{
    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, tool);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Runs a tool, writing its stdout to <paramref name="stdoutFile"/>; throws with its stderr on failure.</summary>
    public static void Run(string tool, string stdoutFile, params string[] args)
    {
        var psi = new ProcessStartInfo(Find(tool) ?? throw new InvalidOperationException($"{tool} not on PATH"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        using (var fs = File.Create(stdoutFile)) p.StandardOutput.BaseStream.CopyTo(fs);
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited {p.ExitCode}: {err.Result}");
    }
}

/// <summary>A fact that needs a peer tool: skipped, with the reason, where the tool is absent (CI installs it).</summary>
public sealed class RequiresToolFactAttribute : FactAttribute
{
    public RequiresToolFactAttribute(string tool)
    {
        if (PeerTools.Find(tool) is null) Skip = $"{tool} is not installed (apt-get install {(tool == "perf" ? "linux-perf" : tool)}; .ci/run installs it)";
    }
}

public sealed class RequiresToolTheoryAttribute : TheoryAttribute
{
    public RequiresToolTheoryAttribute(string tool)
    {
        if (PeerTools.Find(tool) is null) Skip = $"{tool} is not installed (apt-get install {(tool == "perf" ? "linux-perf" : tool)}; .ci/run installs it)";
    }
}
