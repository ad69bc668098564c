using AsiTrace.Ingest.Formats;

namespace AsiTrace.Tests.Ingest;

public class CExprTests
{
    [Theory]
    [InlineData("0x10", 16UL)]
    [InlineData("(( gfp_t)0x400u)|(( gfp_t)0x800u)", 0xc00UL)]
    [InlineData("18446744073709551615UL", ulong.MaxValue)]
    [InlineData("0xffffffffffffffff", ulong.MaxValue)]
    public void EvaluatesKernelConstants(string text, ulong expected)
    {
        Assert.True(CExpr.TryEvaluate(text, out ulong v));
        Assert.Equal(expected, v);
    }

    [Theory]
    // A literal past 64 bits in a hostile format file threw OverflowException out of the reader (afl++, trace-dat).
    [InlineData("30000000000000000000")]
    [InlineData("0x1ffffffffffffffff")]
    [InlineData("(( gfp_t)0x99999999999999999999u)")]
    [InlineData("0x")]
    public void RefusesWhatIsNotA64BitConstant(string text) => Assert.False(CExpr.TryEvaluate(text, out _));
}
