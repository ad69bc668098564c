using AsiTrace.Ingest.Input;

namespace AsiTrace.Cli;

/// <summary>Maps failures to the contract's exit codes with a one-line message on stderr.</summary>
static class CliRunner
{
    public static int Guard(Func<int> action)
    {
        try { return action(); }
        catch (InvalidTraceException e) { Console.Error.WriteLine($"asitrace: invalid input: {e.Message}"); return ExitCodes.InvalidInput; }
        catch (FileNotFoundException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
        catch (UnauthorizedAccessException e) { Console.Error.WriteLine($"asitrace: {e.Message}"); return ExitCodes.IoError; }
        catch (IOException e) { Console.Error.WriteLine($"asitrace: I/O error: {e.Message}"); return ExitCodes.IoError; }
    }
}
