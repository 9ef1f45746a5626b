using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Chat;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Items;

namespace CodexLb.Tests.Unit;

public sealed class ChatRequestTranslatorTests
{
    private static ChatCompletionRequest Translate(string json)
    {
        Assert.True(ChatRequestTranslator.TryTranslate(Encoding.UTF8.GetBytes(json), out var request, out var error), error?.Message);
        return request!;
    }

    private static OpenAIError Refuse(string json) => Refuse(Encoding.UTF8.GetBytes(json));

    private static OpenAIError Refuse(byte[] body)
    {
        Assert.False(ChatRequestTranslator.TryTranslate(body, out var request, out var error));
        Assert.Null(request);
        return error!;
    }

    private static string[] Items(ChatCompletionRequest request) => [.. request.Responses.InputItems.Select(i => Encoding.UTF8.GetString(i))];

    private static JsonElement Settings(ChatCompletionRequest request) =>
        JsonDocument.Parse("{" + Encoding.UTF8.GetString(request.Responses.Settings) + "}").RootElement;

    [Fact]
    public void Messages_become_the_Responses_items_of_each_role()
    {
        var request = Translate("""
            {"model":"gpt-5.5","messages":[
              {"role":"system","content":"be brief"},
              {"role":"developer","content":[{"type":"text","text":"dev"}]},
              {"role":"user","name":"ann","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/i.png","detail":"low"}},{"type":"file","file":{"file_id":"file_1"}}]},
              {"role":"assistant","content":"calling","tool_calls":[{"id":"call_1","type":"function","function":{"name":"exec","arguments":"{\"a\":1}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"out"},{"type":"text","text":"put"}]}]}
            """);
        Assert.Equal(
        [
            """{"type":"message","role":"system","content":[{"type":"input_text","text":"be brief"}]}""",
            """{"type":"message","role":"developer","content":[{"type":"input_text","text":"dev"}]}""",
            """{"type":"message","role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x/i.png","detail":"low"},{"type":"input_file","file_id":"file_1"}]}""",
            """{"type":"message","role":"assistant","content":[{"type":"output_text","text":"calling"}]}""",
            """{"type":"function_call","call_id":"call_1","name":"exec","arguments":"{\u0022a\u0022:1}"}""",
            """{"type":"function_call_output","call_id":"call_1","output":"output"}""",
        ], Items(request));
        Assert.False(request.Stream);
        Assert.Null(request.Responses.PreviousResponseId);
    }

    [Fact]
    public void An_assistant_turn_has_the_fingerprints_of_the_output_items_the_provider_returned()
    {
        // What the bridge stored for the turn (the provider's output items, with ids, status, annotations and logprobs) …
        ulong[] stored =
        [
            ItemFingerprint.Compute("""{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAA"}"""u8),
            ItemFingerprint.Compute("""{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Let me look.","annotations":[],"logprobs":[]}]}"""u8),
            ItemFingerprint.Compute("""{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"cmd\":\"ls\"}","call_id":"call_1","name":"exec_command"}"""u8),
        ];
        // … and the chat client's echo of the answer it got for that turn: reasoning is gone, the rest must be equal.
        var echoed = Translate("""
            {"model":"m","messages":[{"role":"assistant","content":"Let me look.","refusal":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}]}]}
            """);
        var prints = ItemFingerprint.ComputeAll(echoed.Responses.InputItems);
        Assert.Equal(stored[1..], prints);
        Assert.Equal(ContextChain.Extend(ContextChain.Empty, stored), ContextChain.Extend(ContextChain.Empty, prints));

        // A plain answer, as a string and as text parts.
        var message = ItemFingerprint.Compute("""{"id":"msg_2","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Done.","annotations":[]}]}"""u8);
        Assert.Equal(message, ItemFingerprint.ComputeAll(Translate("""{"model":"m","messages":[{"role":"assistant","content":"Done."}]}""").Responses.InputItems).Single());
        Assert.Equal(message, ItemFingerprint.ComputeAll(Translate("""{"model":"m","messages":[{"role":"assistant","content":[{"type":"text","text":"Done."}]}]}""").Responses.InputItems).Single());
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\"\"")]
    public void Tool_calls_without_text_are_only_function_calls(string content)
    {
        var request = Translate($$$"""
            {"model":"m","messages":[{"role":"assistant","content":{{{content}}},"tool_calls":[{"id":"c1","type":"function","function":{"name":"a","arguments":"{}"}},{"id":"c2","type":"function","function":{"name":"b","arguments":"{}"}}]}]}
            """);
        Assert.Equal(["function_call", "function_call"], request.Responses.InputItems.Select(i => JsonDocument.Parse(i).RootElement.GetProperty("type").GetString()));
    }

    [Fact]
    public void Settings_are_the_Responses_equivalents()
    {
        var request = Translate("""
            {"model":"gpt-5.5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],
             "tools":[{"type":"function","function":{"name":"exec","description":"run","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}},"strict":true}},
                      {"type":"function","function":{"name":"noargs"}}],
             "tool_choice":{"type":"function","function":{"name":"exec"}},
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}},
             "verbosity":"low","max_tokens":50,"max_completion_tokens":100,"temperature":0.5,"top_p":1,"user":"u1",
             "parallel_tool_calls":false,"reasoning_effort":"high","metadata":{"k":"v"},"prompt_cache_key":"pk","store":true,
             "n":1,"logprobs":false,"stop":null,"frequency_penalty":0}
            """);
        Assert.True(request.Stream);
        Assert.True(request.IncludeUsage);
        Assert.Equal("gpt-5.5", request.Responses.Model);
        Assert.Equal("pk", request.Responses.PromptCacheKey);
        var settings = Settings(request);
        Assert.Equal(
            ["tools", "tool_choice", "temperature", "top_p", "user", "parallel_tool_calls", "metadata", "prompt_cache_key", "model", "max_output_tokens", "text", "reasoning"],
            settings.EnumerateObject().Select(p => p.Name));
        var tools = settings.GetProperty("tools");
        Assert.Equal("""{"type":"function","name":"exec","description":"run","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}},"strict":true}""", tools[0].GetRawText());
        // Chat functions are non-strict by default, Responses functions strict: the default is written out.
        Assert.Equal("""{"type":"function","name":"noargs","parameters":{"type":"object","properties":{}},"strict":false}""", tools[1].GetRawText());
        Assert.Equal("""{"type":"function","name":"exec"}""", settings.GetProperty("tool_choice").GetRawText());
        Assert.Equal("""{"format":{"type":"json_schema","name":"answer","schema":{"type":"object"},"strict":true},"verbosity":"low"}""", settings.GetProperty("text").GetRawText());
        Assert.Equal(100, settings.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal("high", settings.GetProperty("reasoning").GetProperty("effort").GetString());
        Assert.Equal("v", settings.GetProperty("metadata").GetProperty("k").GetString());
    }

    [Fact]
    public void Json_object_and_a_plain_tool_choice_pass_through()
    {
        var settings = Settings(Translate("""{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"},"tool_choice":"required","max_tokens":7}"""));
        Assert.Equal("""{"format":{"type":"json_object"}}""", settings.GetProperty("text").GetRawText());
        Assert.Equal("required", settings.GetProperty("tool_choice").GetString());
        Assert.Equal(7, settings.GetProperty("max_output_tokens").GetInt32());
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"","messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":5,"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"m"}""", "messages")]
    [InlineData("""{"model":"m","messages":[]}""", "messages")]
    [InlineData("""{"model":"m","messages":{}}""", "messages")]
    [InlineData("""{"model":"m","messages":["hi"]}""", "messages[0]")]
    [InlineData("""{"model":"m","messages":[{"content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"robot","content":"x"}]}""", "messages[1].role")]
    [InlineData("""{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]}""", "messages[0].content")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"u"}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}""", "messages[0].tool_calls[0].function.name")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}""", "n")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}""", "logprobs")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":2}""", "top_logprobs")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"audio":{"voice":"alloy","format":"mp3"}}""", "audio")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"]}""", "modalities")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["END"]}""", "stop")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":7}""", "seed")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"functions":[]}""", "functions")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"presence_penalty":0.5}""", "presence_penalty")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"frobnicate":true}""", "frobnicate")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", "stream_options")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","custom":{"name":"x"}}]}""", "tools[0].type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}""", "tool_choice")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}""", "response_format.type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"m","model":"n","messages":[{"role":"user","content":"hi"}]}""", "model")]
    public void Requests_it_cannot_honour_are_400s_naming_the_parameter(string json, string param)
    {
        var error = Refuse(json);
        Assert.Equal(400, error.Status);
        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal(ErrorTypes.InvalidRequest, error.Type);
        Assert.Equal(param, error.Param);
    }

    [Fact]
    public void Broken_bodies_are_refused_like_the_Responses_parser_refuses_them()
    {
        Assert.Equal(ErrorCodes.InvalidJson, Refuse("not json").Code);
        Assert.Equal(ErrorCodes.InvalidJson, Refuse("[1]").Code);
        Assert.Equal(ErrorCodes.InvalidJson, Refuse(new string('[', 300) + new string(']', 300)).Code);
        Assert.Equal(ErrorCodes.InvalidEncoding, Refuse([.. "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xC3, 0x28, .. "\"}]}"u8]).Code);
        var surrogate = Refuse("""{"model":"m","messages":[{"role":"user","content":"bad \ud800 text"}]}""");
        Assert.Equal((ErrorCodes.InvalidEncoding, "messages"), (surrogate.Code, surrogate.Param));
        var inSchema = Refuse("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"description":"\udc00"}}}]}""");
        Assert.Equal((ErrorCodes.InvalidEncoding, "tools"), (inSchema.Code, inSchema.Param));
    }
}
