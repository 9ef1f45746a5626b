using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Items;
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

    /// <summary>Names are read without a string each: escaped ones as their text, long ones as well, with the same fingerprint.</summary>
    [Fact]
    public void Escaped_and_long_property_names_are_read_as_their_text()
    {
        var longName = new string('x', 100);
        var escaped = Parse($$"""{"\u006dodel":"m","\u0069nput":"hi","t\u0065mperature":1,"{{longName}}":2}""");
        var plain = Parse($$"""{"model":"m","input":"hi","temperature":1,"{{longName}}":2}""");
        Assert.Equal("m", escaped.Model);
        Assert.Single(escaped.InputItems);
        Assert.Equal(plain.SettingsFingerprint, escaped.SettingsFingerprint);
        Assert.Equal(RequestSettings.Fingerprint(plain.Settings), plain.SettingsFingerprint);
        Assert.Equal(RequestSettings.Fingerprint(escaped.Settings), escaped.SettingsFingerprint);
        Assert.NotEqual(plain.SettingsFingerprint, Parse("""{"model":"m","input":"hi","temperature":1}""").SettingsFingerprint);
    }

    /// <summary>Requests naming the same model share its string (<c>ModelName</c>): one naming another never reads a stale one.</summary>
    [Fact]
    public void Each_request_reads_its_own_model()
    {
        Assert.Equal("a", Parse("""{"model":"a","input":"x"}""").Model);
        Assert.Equal("b", Parse("""{"model":"b","input":"x"}""").Model);
        Assert.Equal("a", Parse("""{"model":"\u0061","input":"x"}""").Model);
    }

    [Fact]
    public void A_null_conversation_is_absent_and_never_forwarded()
    {
        var r = Parse("""{"model":"m","input":"hi","conversation":null}""");
        Assert.DoesNotContain("conversation", Encoding.UTF8.GetString(r.Settings));
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi","conversation":"conv_1"}""")]
    [InlineData("""{"model":"m","input":"hi","conversation":{"id":"conv_1"}}""")]
    public void A_conversation_is_read_as_an_id_or_an_object_and_never_forwarded(string body)
    {
        var r = Parse(body);
        Assert.Equal("conv_1", r.ConversationId);
        Assert.DoesNotContain("conversation", Encoding.UTF8.GetString(r.Settings));
    }

    [Fact]
    public void A_conversation_in_a_websocket_frame_is_read_and_one_in_a_forwarded_body_is_refused_with_what_to_do_instead()
    {
        Assert.True(ResponseCreateParser.TryParseFrame("""{"type":"response.create","model":"m","input":"hi","conversation":"conv_1"}"""u8, out var frame, out _));
        Assert.Equal("conv_1", frame!.ConversationId);
        Assert.False(ResponseCreateParser.TryValidateForward("""{"model":"m","input":"hi","conversation":"conv_1"}"""u8, out var error));
        Assert.Equal(("conversation", 400), (error!.Param, error.Status));
        Assert.Contains("previous_response_id", error.Message);
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
    [InlineData("""{"model":"m","input":[],"background":true,"store":false}""", ErrorCodes.InvalidRequest, "store")]
    [InlineData("""{"model":"m","input":[],"conversation":7}""", ErrorCodes.InvalidRequest, "conversation")]
    [InlineData("""{"model":"m","input":[],"conversation":{"name":"conv_1"}}""", ErrorCodes.InvalidRequest, "conversation")]
    [InlineData("""{"model":"m","input":[],"conversation":"conv_1","previous_response_id":"resp_1"}""", ErrorCodes.InvalidRequest, "conversation")]
    [InlineData("""{"model":"m","input":[],"conversation":"conv_1","background":true}""", ErrorCodes.InvalidRequest, "background")]
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

    private static OpenAIError Reject(byte[] body, bool frame = false)
    {
        var ok = frame ? ResponseCreateParser.TryParseFrame(body, out var request, out var error) : ResponseCreateParser.TryParse(body, out request, out error);
        Assert.False(ok);
        Assert.Null(request);
        Assert.Equal(400, error!.Status);
        Assert.Equal(ErrorTypes.InvalidRequest, error.Type);
        return error;
    }

    private static OpenAIError Reject(string body, bool frame = false) => Reject(Encoding.UTF8.GetBytes(body), frame);

    /// <summary>Raw bytes around a JSON text: <c>Bytes("{\"input\":\"", [0xFF], "\"}")</c>.</summary>
    private static byte[] Bytes(string before, byte[] middle, string after) => [.. Encoding.UTF8.GetBytes(before), .. middle, .. Encoding.UTF8.GetBytes(after)];

    public static TheoryData<string, byte[]> InvalidUtf8 => new()
    {
        { "lone continuation byte", [0x80] },
        { "0xFF", [0xFF] },
        { "overlong '/'", [0xC0, 0xAF] },
        { "overlong NUL", [0xE0, 0x80, 0x80] },
        { "UTF-8 encoded surrogate", [0xED, 0xA0, 0x80] },
        { "truncated sequence", [0xE2, 0x82] },
        { "above U+10FFFF", [0xF4, 0x90, 0x80, 0x80] },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void Invalid_utf8_anywhere_is_400_invalid_encoding(string what, byte[] bad)
    {
        // Each pair surrounds the bad bytes: an input string, inside an item, a tool, the model, the anchor, a property name.
        foreach (var (before, after) in new[]
        {
            ("{\"model\":\"m\",\"input\":\"", "\"}"),
            ("{\"model\":\"m\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"", "\"}]}"),
            ("{\"model\":\"m\",\"input\":[],\"tools\":[{\"name\":\"", "\"}]}"),
            ("{\"model\":\"", "\",\"input\":[]}"),
            ("{\"model\":\"m\",\"input\":[],\"previous_response_id\":\"resp_", "\"}"),
            ("{\"model\":\"m\",\"input\":[],\"x", "\":1}"),
        })
        {
            var error = Reject(Bytes(before, bad, after));
            Assert.True(ErrorCodes.InvalidEncoding == error.Code, $"{what} in {before}: {error.Code}");
            Assert.True(ErrorCodes.InvalidEncoding == Reject(Bytes(before.Insert(1, "\"type\":\"response.create\","), bad, after), frame: true).Code, what);
        }
    }

    [Theory]
    [InlineData("""{"model":"m","input":"\ud800"}""", "input")]
    [InlineData("""{"model":"m","input":"a\udc00b"}""", "input")]
    [InlineData("""{"model":"m","input":"\ud83d\u0041"}""", "input")]
    [InlineData("""{"model":"m","input":"\ud83d"}""", "input")]
    [InlineData("""{"model":"m","input":[{"type":"message","role":"user","content":"x\uD800"}]}""", "input")]
    [InlineData("""{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"\udfff"}]}]}""", "input")]
    [InlineData("""{"model":"m","input":[{"type":"function_call_output","call_id":"c","\ud800":"x"}]}""", "input")]
    [InlineData("""{"model":"\ud800","input":[]}""", "model")]
    [InlineData("""{"model":"m","input":[],"previous_response_id":"resp_\ud800"}""", "previous_response_id")]
    [InlineData("""{"model":"m","input":[],"prompt_cache_key":"\ud800"}""", "prompt_cache_key")]
    [InlineData("""{"model":"m","input":[],"tools":[{"type":"function","name":"\udbff"}]}""", "tools")]
    [InlineData("""{"model":"m","input":[],"instructions":"\ud800\ud800"}""", "instructions")]
    public void A_lone_surrogate_escape_anywhere_is_400_invalid_encoding_with_its_param(string body, string param)
    {
        var error = Reject(body);
        Assert.Equal(ErrorCodes.InvalidEncoding, error.Code);
        Assert.Equal(param, error.Param);
    }

    [Fact]
    public void A_lone_surrogate_in_a_top_level_property_name_is_400_invalid_encoding()
    {
        Assert.Equal(ErrorCodes.InvalidEncoding, Reject("""{"model":"m","input":[],"\ud800":1}""").Code);
        Assert.Equal(ErrorCodes.InvalidEncoding, Reject("""{"type":"response.create","\udc00":1}""", frame: true).Code);
    }

    [Fact]
    public void Escaped_surrogate_pairs_and_other_escapes_are_kept_as_written()
    {
        const string content = """\ud83d\ude00 \u00e9\n\\ud800 \"q\" \uD83D\uDE00""";
        var r = Parse($$"""{"model":"m","input":[{"type":"message","role":"user","content":"{{content}}"}],"instructions":"\uD83D\uDE00"}""");
        Assert.Contains(content, Encoding.UTF8.GetString(r.InputItems[0]));
        Assert.Contains("\\uD83D\\uDE00", Encoding.UTF8.GetString(r.Settings));
        using var item = JsonDocument.Parse(r.InputItems[0]);
        Assert.Equal("\U0001F600 é\n\\ud800 \"q\" \U0001F600", item.RootElement.GetProperty("content").GetString());
        // The fingerprint unescapes it (an echo written without escapes matches).
        Assert.Equal(ItemFingerprint.Compute("""{"type":"message","role":"user","content":"😀 é\n\\ud800 \"q\" 😀"}"""u8), ItemFingerprint.Compute(r.InputItems[0]));
    }

    [Fact]
    public void The_fingerprint_of_a_lone_surrogate_does_not_throw()
    {
        // The parser refuses it first; the fingerprint itself (also used on stored and upstream items) never throws.
        Assert.NotEqual(ItemFingerprint.Compute("""{"type":"message","content":"\ud800"}"""u8), ItemFingerprint.Compute("""{"type":"message","content":"\udc00"}"""u8));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("abc", true)]
    [InlineData("\\n\\t\\\\\\\"\\/", true)]
    [InlineData("\\ud83d\\ude00", true)]
    [InlineData("\\uD83D\\uDE00x\\u0041", true)]
    [InlineData("\\\\ud800", true)]          // an escaped backslash, then plain text
    [InlineData("\\ud800", false)]
    [InlineData("\\udc00", false)]
    [InlineData("\\ud800x", false)]
    [InlineData("\\ud800\\n", false)]
    [InlineData("\\ud800\\ud800", false)]
    [InlineData("\\ude00\\ud83d", false)]
    [InlineData("ok \\ud83d\\ude00 then \\udbff", false)]
    public void JsonEscapes_accepts_paired_surrogates_only(string raw, bool valid) =>
        Assert.Equal(valid, JsonEscapes.SurrogatesArePaired(Encoding.UTF8.GetBytes(raw)));

    [Theory]
    [InlineData("""{"input":[]}""", "Missing required parameter: 'model'.")]
    [InlineData("""{"model":null,"input":[]}""", "Missing required parameter: 'model'.")]
    [InlineData("""{"model":{"id":"gpt-5.5"},"input":[]}""", "'model' must be a string.")]
    [InlineData("""{"model":5,"input":[]}""", "'model' must be a string.")]
    [InlineData("""{"model":["gpt-5.5"],"input":[]}""", "'model' must be a string.")]
    [InlineData("""{"model":true,"input":[]}""", "'model' must be a string.")]
    [InlineData("""{"model":"","input":[]}""", null)]
    public void Model_must_be_a_string(string body, string? message)
    {
        var error = Reject(body);
        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("model", error.Param);
        if (message is not null) Assert.Equal(message, error.Message);
        // The same holds for a websocket frame, the generate:false warm-up included (the Codex CLI always sends model).
        var frame = body.Insert(1, "\"type\":\"response.create\",\"generate\":false,");
        Assert.Equal("model", Reject(frame, frame: true).Param);
    }

    [Fact]
    public void A_too_long_model_is_400()
    {
        Assert.Equal("model", Reject($$"""{"model":"{{new string('m', ResponseCreateParser.MaxModelLength + 1)}}","input":[]}""").Param);
        Assert.Equal(new string('m', ResponseCreateParser.MaxModelLength), Parse($$"""{"model":"{{new string('m', ResponseCreateParser.MaxModelLength)}}","input":[]}""").Model);
    }

    [Theory]
    [InlineData("""{"type":"response.cancel"}""", "Unsupported frame type 'response.cancel'; send 'response.create'.")]
    [InlineData("""{"type":"foo","model":"m","input":[]}""", "Unsupported frame type 'foo'; send 'response.create'.")]
    [InlineData("""{"model":"m","input":7,"type":"session.update"}""", "Unsupported frame type 'session.update'; send 'response.create'.")]
    [InlineData("""{"model":"m","input":[]}""", null)]
    [InlineData("""{}""", null)]
    [InlineData("""{"type":5,"model":"m","input":[]}""", null)]
    [InlineData("""{"type":null,"model":"m","input":[]}""", null)]
    [InlineData("""{"type":{"t":"response.create"},"model":"m","input":[]}""", null)]
    public void A_frame_that_is_not_response_create_is_named_before_its_fields_are_checked(string frame, string? message)
    {
        var error = Reject(frame, frame: true);
        Assert.Equal(ErrorCodes.UnsupportedFrameType, error.Code);
        Assert.Equal("type", error.Param);
        Assert.Contains("response.create", error.Message);
        if (message is not null) Assert.Equal(message, error.Message);
        using var doc = JsonDocument.Parse(ErrorFrame.Build(error));
        Assert.Equal(400, doc.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public void A_response_create_frame_parses_and_an_http_body_ignores_type()
    {
        Assert.True(ResponseCreateParser.TryParseFrame("""{"type":"response.create","model":"m","input":"hi"}"""u8, out var frame, out _));
        Assert.Equal("response.create", frame!.Type);
        Assert.True(ResponseCreateParser.TryParse("""{"type":"whatever","model":"m","input":"hi"}"""u8, out var http, out _));
        Assert.DoesNotContain("type", Encoding.UTF8.GetString(http!.Settings));
    }

    [Theory]
    [InlineData("""{"model":"m","input":[],"input":[{"type":"message","role":"user","content":"x"}]}""", "input")]
    [InlineData("""{"model":"m","model":"n","input":[]}""", "model")]
    [InlineData("""{"model":"m","input":[],"previous_response_id":"a","previous_response_id":"b"}""", "previous_response_id")]
    [InlineData("""{"model":"m","input":[],"stream":true,"stream":false}""", "stream")]
    public void A_duplicate_routing_parameter_is_400(string body, string param)
    {
        var error = Reject(body);
        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal(param, error.Param);
    }

    [Theory]
    [InlineData("""{"model":"m","input":[{"type":"message","content":"x"},""")]
    [InlineData("""{"model":"m","input":[{"type":"message","content":"x"}]""")]
    [InlineData("""{"model":"m","input":[{"type":"message","content":"x\q"}]}""")]
    [InlineData("""{"model":"m","input":[{"type":"message","content":"x\u12"}]}""")]
    [InlineData("""{"model":"m","input":"\u00""")]
    public void Broken_json_anywhere_is_400_invalid_json(string body) =>
        Assert.Equal(ErrorCodes.InvalidJson, Reject(body).Code);

    [Fact]
    public void Nesting_past_the_depth_limit_is_400_invalid_json()
    {
        var deep = new string('[', 300) + new string(']', 300);
        Assert.Equal(ErrorCodes.InvalidJson, Reject($$"""{"model":"m","input":[],"x":{{deep}}}""").Code);
        Assert.Equal(ErrorCodes.InvalidJson, Reject($$"""{"model":"m","input":[{"type":"message","content":{{deep}}}]}""").Code);
    }

    [Fact]
    public void Huge_numbers_are_forwarded_as_written()
    {
        var r = Parse("""{"model":"m","input":[],"temperature":1e999999,"max_output_tokens":123456789012345678901234567890}""");
        Assert.Contains("1e999999", Encoding.UTF8.GetString(r.Settings));
    }

    [Fact]
    public void Settings_and_items_the_parser_accepts_are_read_back_at_any_accepted_depth()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 250)) + "1" + new string('}', 250);
        var r = Parse($$"""{"model":"m","tool_choice":{{deep}},"input":[{"type":"message","role":"user","content":[{{deep}}]}]}""");
        Assert.Equal("m", RequestSettings.ReadString(r.Settings, "model"));
        _ = ItemFingerprint.Compute(r.InputItems[0]);
        var echoed = """{"type":"response.completed","response":{"id":"resp_1","tool_choice":""" + deep + "}}";
        Assert.Equal("resp_1", CodexLb.Protocol.Events.EventReader.Summarize(Encoding.UTF8.GetBytes(echoed)).ResponseId);
        Assert.Equal("response.completed", CodexLb.Protocol.Events.EventReader.ReadType(Encoding.UTF8.GetBytes(echoed)));
    }
}
