using System.Text.RegularExpressions;

namespace AsiTrace.Tests.Cli;

/// <summary>The README's quick start works as written: every indented command in that section is run (the asitrace
/// ones through the built executable; the test command is the run this test belongs to).</summary>
public class ReadmeTests
{
    [Fact]
    public void every_quick_start_command_runs()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int start = readme.IndexOf("## Quick start", StringComparison.Ordinal);
        int end = readme.IndexOf("\n## ", start + 5, StringComparison.Ordinal);
        var commands = Regex.Matches(readme[start..end], @"^    (dotnet .+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.Contains("dotnet test AsiTrace.sln -c Release", commands);
        const string prefix = "dotnet run --project src/Cli -c Release -- ";
        var asitrace = commands.Where(c => c.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(asitrace);
        foreach (var c in asitrace)
        {
            var args = c[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            // Run where a user would (the repository root), writing into a temporary directory.
            string cwd = TestPaths.TempDir();
            foreach (var d in new[] { "sample-traces" })
                if (!Directory.Exists(Path.Combine(cwd, d))) Directory.CreateSymbolicLink(Path.Combine(cwd, d), Path.Combine(TestPaths.RepoRoot, d));
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "asitrace.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"{c}: {stderr}");
            if (args[0] == "demo") Assert.True(File.Exists(stdout.Trim()), $"demo printed '{stdout.Trim()}'");
        }
    }
}

/// <summary>The README's gate example runs as written, in a shell, and exits as its comment says.</summary>
public class ReadmeGateExampleTests
{
    [Fact]
    public void the_gate_example_runs_as_written_and_fails_the_gate()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int marker = readme.IndexOf("<!-- gate-example", StringComparison.Ordinal);
        Assert.True(marker > 0, "the README lost its gate example");
        int start = readme.IndexOf("```sh\n", marker, StringComparison.Ordinal) + 6, end = readme.IndexOf("```", start, StringComparison.Ordinal);
        var lines = readme[start..end].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("'noasi:estimated_ns>+2%'", lines[2]);
        string cwd = TestPaths.TempDir();
        Directory.CreateSymbolicLink(Path.Combine(cwd, "sample-traces"), Path.Combine(TestPaths.RepoRoot, "sample-traces"));
        string dll = Path.Combine(AppContext.BaseDirectory, "asitrace.dll");
        // asitrace as a shell function, so the lines run exactly as a user pastes them; each line's exit code is kept.
        string script = $"asitrace() {{ dotnet '{dll}' \"$@\"; }}\n" + string.Join("\n", lines.Select(l => l + "\necho \"rc=$?\" >&2")) + "\n";
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { WorkingDirectory = cwd, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var codes = System.Text.RegularExpressions.Regex.Matches(stderr, @"rc=(\d+)").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal([0, 0, 1], codes);
        Assert.Contains("**FAIL**", stdout);
        Assert.False(File.Exists(Path.Combine(cwd, "+2%")), "the gate was taken as a redirect");
    }
}
