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
        };
        return root;
    }

    public static int Main(string[] args)
    {
        var parse = BuildRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"asitrace: {e.Message}");
            Console.Error.WriteLine("Try 'asitrace --help'.");
            return ExitCodes.Usage;
        }
        return parse.Invoke();
    }
}
