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

    [Theory]
    // The shorthands SDKs use when they echo history read as the provider's full form.
    [InlineData("""{"role":"user","content":"hi"}""", """{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}""")]
    [InlineData("""{"role":"assistant","content":"hi"}""", """{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hi","annotations":[],"logprobs":[]}]}""")]
    [InlineData("""{"type":"message","role":"user","content":"hi"}""", """{"role":"user","content":[{"type":"input_text","text":"hi"}]}""")]
    [InlineData("""{"role":"system","content":"s"}""", """{"type":"message","role":"system","content":[{"text":"s","type":"input_text"}]}""")]
    public void Sdk_shorthands_match_the_full_form(string shorthand, string full) => Assert.Equal(F(full), F(shorthand));

    [Theory]
    // A shorthand stays distinct where the meaning differs: the role decides input_text vs output_text.
    [InlineData("""{"role":"user","content":"hi"}""", """{"type":"message","role":"user","content":[{"type":"output_text","text":"hi"}]}""")]
    [InlineData("""{"role":"assistant","content":"hi"}""", """{"role":"user","content":"hi"}""")]
    [InlineData("""{"role":"user","content":"hi"}""", """{"type":"function_call_output","role":"user","content":"hi"}""")]
    public void Shorthands_do_not_blur_different_items(string a, string b) => Assert.NotEqual(F(a), F(b));

    [Fact]
    public void Every_reasoning_item_has_one_fingerprint_that_does_not_advance_the_chain()
    {
        var reasoning = F("""{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"x"}],"encrypted_content":"gAAA"}""");
        Assert.Equal(ItemFingerprint.Reasoning, reasoning);
        Assert.Equal(ItemFingerprint.Reasoning, F("""{"type":"reasoning","summary":[]}"""));
        var message = F("""{"role":"user","content":"hi"}""");
        Assert.Equal(ContextChain.Extend(ContextChain.Empty, [message]), ContextChain.Extend(ContextChain.Empty, [reasoning, message, reasoning]));
        Assert.NotEqual(ContextChain.Extend(ContextChain.Empty, [message, message]), ContextChain.Extend(ContextChain.Empty, [message]));
    }

    [Fact]
    public void A_reference_to_a_reasoning_item_counts_as_reasoning_and_other_references_do_not()
    {
        Assert.Equal(ItemFingerprint.Reasoning, F("""{"type":"item_reference","id":"rs_68ab"}"""));
        Assert.Equal(ItemFingerprint.Reasoning, F("""{"id":"rs_68ab","type":"item_reference"}"""));
        Assert.NotEqual(ItemFingerprint.Reasoning, F("""{"type":"item_reference","id":"msg_68ab"}"""));
        Assert.NotEqual(ItemFingerprint.Reasoning, F("""{"type":"message","id":"rs_looks_like_one","role":"user","content":"x"}"""));
    }

    [Fact]
    public void A_reference_is_its_id_so_two_references_match_only_when_they_name_the_same_item()
    {
        var a = F("""{"type":"item_reference","id":"msg_a"}""");
        Assert.Equal(a, F("""{"id":"msg_a","type":"item_reference"}"""));
        Assert.NotEqual(a, F("""{"type":"item_reference","id":"msg_b"}"""));
        Assert.NotEqual(a, F("""{"type":"item_reference"}"""));
        Assert.NotEqual(a, F("""{"id":"msg_a","type":"message","role":"assistant","content":"x"}"""));
    }

    [Fact]
    public void Chains_depend_on_order_and_prefixes_match_extends()
    {
        ulong[] prints = [F("""{"role":"user","content":"a"}"""), F("""{"role":"assistant","content":"b"}"""), F("""{"role":"user","content":"c"}""")];
        var prefixes = ContextChain.Prefixes(prints);
        for (var k = 1; k <= prints.Length; k++) Assert.Equal(ContextChain.Extend(ContextChain.Empty, prints.AsSpan(0, k)), prefixes[k - 1]);
        Assert.NotEqual(ContextChain.Extend(ContextChain.Empty, [prints[1], prints[0]]), prefixes[1]);
        Assert.Equal(prefixes[2], ContextChain.Prefixes(prints[2..], prefixes[1])[0]);
    }
}
