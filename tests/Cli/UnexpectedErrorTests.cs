using AsiTrace.Cli;
using Xunit;

namespace AsiTrace.Tests.Cli;

/// <summary>What no command handled still ends in one line and a code of the contract, never a stack trace or 1.</summary>
public class UnexpectedErrorTests
{
    [Theory]
    [InlineData("replay")]
    [InlineData("ingest")]
    [InlineData("analyze")]
    public void an_empty_output_path_is_a_usage_error(string command)
    {
        var (code, _, err) = CliTests.Run(command, TestPaths.Sample("dd-cat"), "-o", "");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("output path cannot be empty", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void a_defect_is_one_line_with_its_own_code_naming_where()
    {
        Exception thrown;
        int[] one = new int[1];
        int past = one.Length;
        try { _ = one[past]; throw new InvalidOperationException("unreachable"); }
        catch (Exception ex) { thrown = ex; }
        var (code, line) = Program.Unexpected(new AggregateException(thrown));
        Assert.Equal(ExitCodes.Internal, code);
        Assert.NotEqual(ExitCodes.GateFailed, code);
        Assert.Matches(@"^asitrace [0-9.]+: internal error: IndexOutOfRangeException:", line);
        var report = System.Text.RegularExpressions.Regex.Match(line, @"stack trace in (\S+);").Groups[1].Value;
        Assert.Contains(nameof(a_defect_is_one_line_with_its_own_code_naming_where), File.ReadAllText(report));
        Assert.Contains(nameof(a_defect_is_one_line_with_its_own_code_naming_where), line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void an_unanticipated_io_failure_is_exit_4()
    {
        var (code, line) = Program.Unexpected(new IOException("disk on fire\nreally"));
        Assert.Equal(ExitCodes.IoError, code);
        Assert.Equal("asitrace: disk on fire really", line);
    }
}
