using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Simulator;

public sealed class TokenCounterTests
{
    [Fact]
    public void Tokens_are_a_quarter_of_the_compact_utf8_length_rounded_up()
    {
        Assert.Equal(2, TokenCounter.Count("""{"a":1}"""));         // 7 bytes
        Assert.Equal(2, TokenCounter.Count("""{"ab":1}"""));        // 8 bytes
        Assert.Equal(3, TokenCounter.Count("""{"abc":1}"""));       // 9 bytes
        Assert.Equal(3, TokenCounter.Count("""{"a":"é"}"""));       // é is 2 bytes: 10 bytes
    }

    [Fact]
    public void Whitespace_and_escaping_do_not_change_the_count()
    {
        var compact = """{"type":"message","role":"user","content":"a<b\"c"}""";
        var pretty = "{ \"type\" : \"message\",\n  \"role\": \"user\", \"content\": \"a\\u003cb\\u0022c\" }";

        Assert.Equal(TokenCounter.Count(compact), TokenCounter.Count(pretty));
    }
}
