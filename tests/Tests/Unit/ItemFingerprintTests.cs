using System.Text;
using CodexLb.Protocol.Items;

namespace CodexLb.Tests.Unit;

public sealed class ItemFingerprintTests
{
    private static ulong F(string json) => ItemFingerprint.Compute(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void An_echoed_output_item_matches_the_original()
    {
        // What the provider emitted vs what the client echoes back: other order, no status/annotations, escaped text.
        var emitted = """{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hi \u00e9","annotations":[]}]}""";
        var echoed = """{"type":"message","role":"assistant","content":[{"text":"hi é","type":"output_text"}],"id":"msg_1"}""";
        Assert.Equal(F(emitted), F(echoed));
        Assert.Equal(F("""{"type":"reasoning","summary":[],"content":null,"encrypted_content":"x"}"""), F("""{"type":"reasoning","summary":[],"encrypted_content":"x"}"""));
    }

    [Theory]
    [InlineData("""{"type":"message","role":"user","content":"a"}""", """{"type":"message","role":"user","content":"b"}""")]
    [InlineData("""{"type":"message","role":"user","content":"a"}""", """{"type":"message","role":"developer","content":"a"}""")]
    [InlineData("""{"type":"function_call","call_id":"c1","arguments":"{}"}""", """{"type":"function_call","call_id":"c2","arguments":"{}"}""")]
    [InlineData("""{"a":[1,2]}""", """{"a":[2,1]}""")]
    [InlineData("""{"a":1}""", """{"a":"1"}""")]
    [InlineData("""{"a":{"b":1,"c":2}}""", """{"a":{"b":2,"c":1}}""")]
    public void Different_content_differs(string a, string b) => Assert.NotEqual(F(a), F(b));
}
