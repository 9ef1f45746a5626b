using System.Text;
using System.Text.Json;
using CodexLb.Grains.Upstream;

namespace CodexLb.Tests.Unit;

/// <summary>The upstream frame is the client's settings and items as sent, plus the bridge's type, store and anchor.</summary>
public sealed class ResponseCreateFrameTests
{
    private static readonly byte[][] Items = [.. new[] { """{"type":"message","role":"user","content":"a"}""", """{"type":"message","role":"user","content":"b"}""", """{"x":[1,2]}""" }
        .Select(Encoding.UTF8.GetBytes)];

    [Theory]
    [InlineData("resp_abc", true)]
    [InlineData("resp_\"quoted\\back<slash>é", false)]
    [InlineData(null, null)]
    public void A_frame_is_exactly_the_settings_the_anchor_the_store_and_the_items_sent(string? anchor, bool? store)
    {
        var settings = Encoding.UTF8.GetBytes("\"model\":\"gpt-5.5\",\"instructions\":\"be brief\"");
        var bytes = ResponseCreateFrame.Build(settings, anchor, Items[1..], store);
        var frame = JsonDocument.Parse(bytes).RootElement;
        Assert.Equal("response.create", frame.GetProperty("type").GetString());
        Assert.Equal("gpt-5.5", frame.GetProperty("model").GetString());
        Assert.Equal("be brief", frame.GetProperty("instructions").GetString());
        if (anchor is null) Assert.False(frame.TryGetProperty("previous_response_id", out _));
        else Assert.Equal(anchor, frame.GetProperty("previous_response_id").GetString());
        if (store is null) Assert.False(frame.TryGetProperty("store", out _));
        else Assert.Equal(store, frame.GetProperty("store").GetBoolean());
        Assert.Equal(Items.Skip(1).Select(Encoding.UTF8.GetString), frame.GetProperty("input").EnumerateArray().Select(i => i.GetRawText()));
    }

    [Fact]
    public void No_settings_and_no_new_items_still_make_a_valid_frame()
    {
        var frame = JsonDocument.Parse(ResponseCreateFrame.Build([], "resp_1", [], false)).RootElement;
        Assert.Equal(0, frame.GetProperty("input").GetArrayLength());
        Assert.Equal("resp_1", frame.GetProperty("previous_response_id").GetString());
    }

    [Theory]
    [InlineData("resp_\"quoted\\back<slash>é", false)]
    [InlineData(null, null)]
    public void A_rented_frame_holds_the_same_bytes_as_a_built_one(string? anchor, bool? store)
    {
        var settings = Encoding.UTF8.GetBytes("\"model\":\"gpt-5.5\"");
        var big = Encoding.UTF8.GetBytes($$"""{"type":"function_call_output","call_id":"c","output":"{{new string('y', 200_000)}}"}""");

        using var rented = ResponseCreateFrame.Rent(settings, anchor, [.. Items, big], store);

        Assert.Equal(ResponseCreateFrame.Build(settings, anchor, [.. Items, big], store), rented.Memory.ToArray());
        Assert.Equal(rented.Memory.Length, rented.Length);
    }
}
