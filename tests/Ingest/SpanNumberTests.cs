using System.Text;
using AsiTrace.Ingest.Text;
using Xunit;

namespace AsiTrace.Tests.Ingest;

public class SpanNumberTests
{
    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    [InlineData("1844674407370955161", 1844674407370955161UL)]
    public void decimal_fields_up_to_ulong_max_parse_exactly(string text, ulong expected)
    {
        Assert.True(SpanNumber.TryParseDec(Encoding.ASCII.GetBytes(text), out ulong v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("18446744073709551616")] // ulong.MaxValue + 1: the last add wraps
    [InlineData("30000000000000000000")] // the multiply wraps to 11553255926290448384, which is larger than the partial value
    [InlineData("99999999999999999999")]
    public void decimal_fields_past_ulong_max_are_refused_not_wrapped(string text)
    {
        Assert.False(SpanNumber.TryParseDec(Encoding.ASCII.GetBytes(text), out _));
        Assert.False(SpanNumber.TryParseSignedDec(Encoding.ASCII.GetBytes("-" + text), out _));
    }
}
