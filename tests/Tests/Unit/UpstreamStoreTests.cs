using System.Text;
using System.Text.Json;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Requests;

namespace CodexLb.Tests.Unit;

/// <summary>What goes upstream as <c>store</c>: the client's choice, unless the upstream requires false.</summary>
public sealed class UpstreamStoreTests
{
    [Theory]
    [InlineData("https://api.openai.com/v1", null, true, true)]
    [InlineData("https://api.openai.com/v1", null, false, false)]
    [InlineData("https://api.openai.com/v1", null, null, null)]
    [InlineData("https://api.openai.com/v1", true, true, false)]
    [InlineData("https://chatgpt.com/backend-api/codex", null, true, false)]
    [InlineData("https://chatgpt.com/backend-api/codex", false, true, true)]
    public void The_client_choice_goes_upstream_unless_the_upstream_requires_store_false(string baseUrl, bool? require, bool? client, bool? sent)
    {
        var options = new UpstreamOptions { BaseUrl = new Uri(baseUrl), RequireStoreFalse = require };
        Assert.Equal(sent, options.UpstreamStore(client));
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi","store":true}""", true)]
    [InlineData("""{"model":"m","input":"hi","store":false}""", false)]
    [InlineData("""{"model":"m","input":"hi"}""", null)]
    public void The_frame_carries_the_decided_store_and_never_the_client_copy(string body, bool? store)
    {
        Assert.True(ResponseCreateParser.TryParse(Encoding.UTF8.GetBytes(body), out var parsed, out _));
        Assert.Equal(store, parsed!.Store);
        var frame = JsonDocument.Parse(ResponseCreateFrame.Build(parsed.Settings, null, parsed.InputItems, parsed.Store)).RootElement;
        var stores = frame.EnumerateObject().Count(p => p.Name == "store");
        Assert.Equal(store is null ? 0 : 1, stores);
        if (store is { } value) Assert.Equal(value, frame.GetProperty("store").GetBoolean());
    }

    [Fact]
    public void Background_and_store_must_be_booleans()
    {
        foreach (var body in new[] { """{"model":"m","input":"x","store":"yes"}""", """{"model":"m","input":"x","background":1}""" })
        {
            Assert.False(ResponseCreateParser.TryParse(Encoding.UTF8.GetBytes(body), out _, out var error));
            Assert.Equal(400, error!.Status);
            Assert.Contains(error.Param!, new[] { "store", "background" });
        }
    }
}
