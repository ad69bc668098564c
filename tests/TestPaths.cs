namespace AsiTrace.Tests;

static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "AsiTrace.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("cannot find AsiTrace.sln above " + AppContext.BaseDirectory);
    }

    public static string Sample(string relative) => Path.IsPathRooted(relative) ? relative : Path.Combine(RepoRoot, "sample-traces", relative);

    public static string TempDir()
    {
        var p = Path.Combine(Path.GetTempPath(), "asitrace-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(p);
        return p;
    }
}
