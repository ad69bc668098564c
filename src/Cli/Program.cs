using System.CommandLine;
using AsiTrace.Cli.Commands;

namespace AsiTrace.Cli;

public static class Program
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("asitrace: what Address Space Isolation would cost on a recorded kernel trace, and what sensitivity grouping, freetypes, __GFP_UNMAPPED and the mermap save")
        {
            IngestCommand.Build(),
            StatsCommand.Build(),
            ReplayCommand.Build(),
            SynthCommand.Build(),
            RecordCommand.Build(),
            CalibrateCommand.Build(),
            ReportCommands.Report(),
            ReportCommands.CompareCommand(),
            ReportCommands.Analyze(),
            ReportCommands.Demo(),
            SqlCommand.Build(),
            FleetCommand.Build(),
        };
        return root;
    }

    public static int Main(string[] args)
    {
        // --debug anywhere: an internal error also prints its stack trace on stderr.
        bool debug = args.Contains("--debug");
        if (debug) args = args.Where(a => a != "--debug").ToArray();
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"asitrace: {e.Message}");
            if (args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0])
                && root.Subcommands.MinBy(c => Distance(c.Name, args[0])) is { } near && Distance(near.Name, args[0]) <= 2)
                Console.Error.WriteLine($"asitrace: '{args[0]}' is not a command; did you mean '{near.Name}'?");
            Console.Error.WriteLine("Try 'asitrace --help'.");
            return ExitCodes.Usage;
        }
        if (EmptyOutputPath(args) is { } opt)
        {
            Console.Error.WriteLine($"asitrace: {opt} '': an output path cannot be empty");
            return ExitCodes.Usage;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex)
        {
            var (code, line) = Unexpected(ex, args);
            Console.Error.WriteLine(line);
            if (debug && code == ExitCodes.Internal) Console.Error.WriteLine(ex);
            return code;
        }
    }

    /// <summary>An exception no command handled, as one line and an exit code: an I/O failure is still exit 4 (the
    /// file system refused, whichever command met it); anything else is a defect in asitrace, exit 70, never 1.</summary>
    public static (int Code, string Line) Unexpected(Exception ex, string[]? args = null)
    {
        var whole = ex;
        if (ex is AggregateException { InnerExceptions.Count: 1 } agg) ex = agg.InnerExceptions[0];
        string message = ex.Message.ReplaceLineEndings(" ");
        if (ex is IOException or UnauthorizedAccessException) return (ExitCodes.IoError, $"asitrace: {message}");
        var site = new System.Diagnostics.StackTrace(ex).GetFrames()
            .FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("AsiTrace", StringComparison.Ordinal) == true)?.GetMethod();
        string version = Ingest.Parquet.MetadataCodec.ToolVersion;
        string? report = WriteReport(whole, args ?? [], version);
        return (ExitCodes.Internal, $"asitrace {version}: internal error: {ex.GetType().Name}: {message}"
            + (site is null ? "" : $" (in {site.DeclaringType?.Name}.{site.Name})")
            + (report is null ? "" : $"; stack trace in {report}") + "; please report it with the command line (--debug prints the trace)");
    }

    /// <summary>The command, the version and the stack trace in a file of the temp directory, for the bug report.</summary>
    static string? WriteReport(Exception ex, string[] args, string version)
    {
        try
        {
            string path = Path.Combine(Path.GetTempPath(), $"asitrace-internal-error-{Environment.ProcessId}.txt");
            File.WriteAllText(path, $"asitrace {version}\ncommand: asitrace {string.Join(' ', args)}\n\n{ex}\n");
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Edit distance (insertions, deletions, substitutions, adjacent swaps) between two words.</summary>
    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    /// <summary>The output option given an empty value, if any: <c>-o ''</c> would otherwise reach the file system.</summary>
    static string? EmptyOutputPath(string[] args)
    {
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] is "-o" or "--output" && args[i + 1].Length == 0) return args[i];
        foreach (var a in args)
            if ((a.StartsWith("--output=", StringComparison.Ordinal) && a.Length == "--output=".Length)) return "--output";
        return null;
    }
}
