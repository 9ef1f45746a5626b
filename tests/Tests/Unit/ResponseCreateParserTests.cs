using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Requests;

namespace CodexLb.Tests.Unit;

public sealed class ResponseCreateParserTests
{
    private static ResponseCreateRequest Parse(string json)
    {
        Assert.True(ResponseCreateParser.TryParse(Encoding.UTF8.GetBytes(json), out var request, out var error), error?.Message);
        return request!;
    }

    [Fact]
    public void Splits_items_settings_and_routing_fields()
    {
        var r = Parse("""{"model":"gpt-5.5","stream":true,"previous_response_id":"resp_1","input":[{"type":"message","role":"user","content":"hi"},{"type":"function_call_output","call_id":"c","output":"x"}],"store":false,"background":false,"tools":[{"type":"function","name":"f"}],"prompt_cache_key":"pk"}""");
        Assert.Equal("resp_1", r.PreviousResponseId);
        Assert.True(r.Stream);
        Assert.Equal("gpt-5.5", r.Model);
        Assert.Equal("pk", r.PromptCacheKey);
        Assert.Equal(2, r.InputItems.Length);
        Assert.Equal("""{"type":"function_call_output","call_id":"c","output":"x"}""", Encoding.UTF8.GetString(r.InputItems[1]));
        // Settings keep what the provider needs and drop what the bridge owns.
        using var settings = JsonDocument.Parse("{" + Encoding.UTF8.GetString(r.Settings) + "}");
        var names = settings.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["model", "tools", "prompt_cache_key"], names);
    }

    [Fact]
    public void A_string_input_becomes_one_user_message()
    {
        var r = Parse("""{"model":"m","input":"hello \"there\""}""");
        using var item = JsonDocument.Parse(r.InputItems.Single());
        Assert.Equal("user", item.RootElement.GetProperty("role").GetString());
        Assert.Equal("hello \"there\"", item.RootElement.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.False(r.Stream);
    }

    [Fact]
    public void Generate_false_without_input_is_a_valid_warmup()
    {
        var r = Parse("""{"type":"response.create","model":"m","generate":false}""");
        Assert.False(r.Generate);
        Assert.Equal("response.create", r.Type);
        Assert.Empty(r.InputItems);
        Assert.DoesNotContain("type", Encoding.UTF8.GetString(r.Settings));
    }

    [Theory]
    [InlineData("not json", ErrorCodes.InvalidJson, null)]
    [InlineData("[1,2]", ErrorCodes.InvalidJson, null)]
    [InlineData("""{"model":"m"}""", ErrorCodes.InvalidRequest, "input")]
    [InlineData("""{"model":"m","input":[1]}""", ErrorCodes.InvalidRequest, "input")]
    [InlineData("""{"model":"m","input":7}""", ErrorCodes.InvalidRequest, "input")]
    [InlineData("""{"model":"m","input":[],"previous_response_id":5}""", ErrorCodes.InvalidRequest, "previous_response_id")]
    [InlineData("""{"model":"m","input":[],"stream":"yes"}""", ErrorCodes.InvalidRequest, "stream")]
    [InlineData("""{"model":"m","input":[]} {}""", ErrorCodes.InvalidJson, null)]
    public void Bad_bodies_are_400_with_an_openai_error(string body, string code, string? param)
    {
        Assert.False(ResponseCreateParser.TryParse(Encoding.UTF8.GetBytes(body), out _, out var error));
        Assert.Equal(400, error!.Status);
        Assert.Equal(code, error.Code);
        Assert.Equal(param, error.Param);
        using var doc = JsonDocument.Parse(error.ToJsonBytes());
        var e = doc.RootElement.GetProperty("error");
        Assert.Equal(code, e.GetProperty("code").GetString());
        Assert.Equal(ErrorTypes.InvalidRequest, e.GetProperty("type").GetString());
        Assert.True(e.TryGetProperty("param", out _));
        Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
    }

    [Fact]
    public void Parses_the_real_codex_capture()
    {
        var capture = JsonDocument.Parse(File.ReadAllText(Fixtures.Wire("http_followup_after_tool.json")));
        var body = JsonSerializer.SerializeToUtf8Bytes(capture.RootElement.GetProperty("body"));
        Assert.True(ResponseCreateParser.TryParse(body, out var r, out _));
        Assert.Equal(capture.RootElement.GetProperty("body").GetProperty("input").GetArrayLength(), r!.InputItems.Length);
        Assert.Null(r.PreviousResponseId);
        Assert.Equal(capture.RootElement.GetProperty("body").GetProperty("prompt_cache_key").GetString(), r.PromptCacheKey);
    }
}
