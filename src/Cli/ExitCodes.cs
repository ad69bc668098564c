namespace AsiTrace.Cli;

/// <summary>Exit codes of the CLI contract (README, Commands).</summary>
public static class ExitCodes
{
    public const int Ok = 0, GateFailed = 1, Usage = 2, InvalidInput = 3, IoError = 4;
    /// <summary>A defect in asitrace itself (sysexits' EX_SOFTWARE): never 1, which says a compare gate failed.</summary>
    public const int Internal = 70;
}
