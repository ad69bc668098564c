using AsiTrace.Cli;
using Xunit;

namespace AsiTrace.Tests.Cli;

/// <summary>The published tool works outside the checkout: what <c>demo</c> replays travels with the binary.</summary>
public class PublishedToolTests
{
    [Fact]
    public void the_demo_sample_sits_beside_the_tool()
    {
        string beside = Path.Combine(Path.GetDirectoryName(typeof(ExitCodes).Assembly.Location)!, "sample-traces", "churn");
        Assert.True(File.Exists(Path.Combine(beside, "trace.txt.zst")), beside);
        Assert.True(File.Exists(Path.Combine(beside, "snapshot-start", "zoneinfo")), beside);
        Assert.Equal(new FileInfo(Path.Combine(TestPaths.Sample("churn"), "trace.txt.zst")).Length, new FileInfo(Path.Combine(beside, "trace.txt.zst")).Length);
    }
}
