using System.Buffers;
using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Chat;
using CodexLb.Protocol.Errors;

namespace CodexLb.Tests.Unit;

/// <summary>Responses events and response objects as chat.completion and chat.completion.chunk.</summary>
public sealed class ChatResponseTests
{
    private const string Usage = """{"input_tokens":120,"input_tokens_details":{"cached_tokens":100},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":150}""";

    private static string Terminal(string type, string status, string output, string extra = "") =>
        $$"""{"type":"{{type}}","response":{"id":"resp_abc","object":"response","created_at":1700000000,"status":"{{status}}","model":"gpt-5.5","output":[{{output}}],"usage":{{Usage}}{{extra}}},"sequence_number":9}""";

    private const string Reasoning = """{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"secret thoughts"}],"encrypted_content":"gAAA"}""";
    private const string Message = """{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello ","annotations":[]},{"type":"output_text","text":"there.","annotations":[]}]}""";
    private const string Call = """{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"cmd\":\"ls\"}","call_id":"call_1","name":"exec_command"}""";

    [Fact]
    public void A_completed_response_is_a_chat_completion_without_its_reasoning()
    {
        var json = JsonDocument.Parse(ChatCompletion.Build(Encoding.UTF8.GetBytes(Terminal("response.completed", "completed", Reasoning + "," + Message)))).RootElement;
        Assert.Equal("chatcmpl-abc", json.GetProperty("id").GetString());
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.Equal(1700000000, json.GetProperty("created").GetInt64());
        Assert.Equal("gpt-5.5", json.GetProperty("model").GetString());
        var choice = json.GetProperty("choices").EnumerateArray().Single();
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("Hello there.", message.GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("refusal").ValueKind);
        Assert.False(message.TryGetProperty("tool_calls", out _));
        Assert.DoesNotContain("secret", json.GetRawText());
        var usage = json.GetProperty("usage");
        Assert.Equal((120, 30, 150), (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32()));
        Assert.Equal(100, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(12, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
    }

    [Fact]
    public void Function_calls_are_tool_calls_with_content_null()
    {
        var json = JsonDocument.Parse(ChatCompletion.Build(Encoding.UTF8.GetBytes(Terminal("response.completed", "completed", Reasoning + "," + Call)))).RootElement;
        var choice = json.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("message").GetProperty("content").ValueKind);
        var call = choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().Single();
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("exec_command", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"cmd":"ls"}""", call.GetProperty("function").GetProperty("arguments").GetString());
    }

    [Theory]
    [InlineData("max_output_tokens", "length")]
    [InlineData("content_filter", "content_filter")]
    public void An_incomplete_response_finishes_with_its_reason(string reason, string finish)
    {
        var terminal = Terminal("response.incomplete", "incomplete", Message, $$""","incomplete_details":{"reason":"{{reason}}"}""");
        var json = JsonDocument.Parse(ChatCompletion.Build(Encoding.UTF8.GetBytes(terminal))).RootElement;
        Assert.Equal(finish, json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    /// <summary>Runs events through a chunk writer; returns the data lines (the JSON chunks, and [DONE] as a string).</summary>
    private static List<string> Stream(bool includeUsage, params (string Type, string Data)[] events)
    {
        var output = new ArrayBufferWriter<byte>();
        using var writer = new ChatChunkWriter(output, includeUsage);
        var ended = false;
        foreach (var (type, data) in events)
        {
            Assert.False(ended, "an event after the end");
            ended = writer.Write(type, Encoding.UTF8.GetBytes(data));
        }
        Assert.True(ended);
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        Assert.EndsWith("\n\n", text);
        var blocks = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(blocks, b => Assert.StartsWith("data: ", b));
        return [.. blocks.Select(b => b[6..])];
    }

    private static (string, string) Created => ("response.created", """{"type":"response.created","response":{"id":"resp_abc","object":"response","created_at":1700000000,"status":"in_progress","model":"gpt-5.5","output":[],"usage":null},"sequence_number":0}""");

    private static JsonElement Delta(string chunk) => JsonDocument.Parse(chunk).RootElement.GetProperty("choices")[0].GetProperty("delta");

    [Fact]
    public void A_streamed_answer_is_role_content_finish_usage_then_done()
    {
        var lines = Stream(includeUsage: true,
            Created,
            ("response.in_progress", """{"type":"response.in_progress","response":{"id":"resp_abc","status":"in_progress"},"sequence_number":1}"""),
            ("response.output_item.added", """{"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]},"sequence_number":2}"""),
            ("response.reasoning_summary_text.delta", """{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"delta":"secret","sequence_number":3}"""),
            ("response.output_item.done", $$"""{"type":"response.output_item.done","output_index":0,"item":{{Reasoning}},"sequence_number":4}"""),
            ("response.output_item.added", """{"type":"response.output_item.added","output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]},"sequence_number":5}"""),
            ("response.output_text.delta", """{"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":0,"delta":"Hello ","sequence_number":6}"""),
            ("response.output_text.delta", """{"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":1,"delta":"there.","sequence_number":7}"""),
            ("response.output_item.done", $$"""{"type":"response.output_item.done","output_index":1,"item":{{Message}},"sequence_number":8}"""),
            ("response.completed", Terminal("response.completed", "completed", Reasoning + "," + Message)));

        Assert.Equal("[DONE]", lines[^1]);
        var chunks = lines[..^1].Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chatcmpl-abc", c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal(1700000000, c.GetProperty("created").GetInt64()));
        Assert.Equal("assistant", Delta(lines[0]).GetProperty("role").GetString());
        Assert.Equal(["Hello ", "there."], lines[1..3].Select(l => Delta(l).GetProperty("content").GetString()));
        Assert.Equal("stop", chunks[3].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks[..4], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal(0, chunks[4].GetProperty("choices").GetArrayLength());
        Assert.Equal(150, chunks[4].GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(6, lines.Count);
        Assert.DoesNotContain(lines, l => l.Contains("secret"));
    }

    [Fact]
    public void Tool_calls_stream_with_their_index_and_items_without_deltas_are_sent_whole()
    {
        var second = """{"id":"fc_2","type":"function_call","status":"completed","arguments":"{}","call_id":"call_2","name":"other"}""";
        var lines = Stream(includeUsage: false,
            Created,
            ("response.output_item.added", """{"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"exec_command"}}"""),
            ("response.function_call_arguments.delta", """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"cmd\":"}"""),
            ("response.function_call_arguments.delta", """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"\"ls\"}"}"""),
            ("response.output_item.done", $$"""{"type":"response.output_item.done","output_index":0,"item":{{Call}}}"""),
            // A second call that arrives only as its done item, and a message whose text came without deltas.
            ("response.output_item.done", $$"""{"type":"response.output_item.done","output_index":1,"item":{{second}}}"""),
            ("response.output_item.done", $$"""{"type":"response.output_item.done","output_index":2,"item":{{Message}}}"""),
            ("response.completed", Terminal("response.completed", "completed", Call + "," + second + "," + Message)));

        Assert.Equal("[DONE]", lines[^1]);
        var calls = lines.Where(l => l.Contains("\"tool_calls\":[")).Select(l => Delta(l).GetProperty("tool_calls")[0]).ToList();
        Assert.Equal([0, 0, 0, 1], calls.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal("call_1", calls[0].GetProperty("id").GetString());
        Assert.Equal("exec_command", calls[0].GetProperty("function").GetProperty("name").GetString());
        Assert.False(calls[1].TryGetProperty("id", out _));
        Assert.Equal("""{"cmd":"ls"}""", string.Concat(calls.Take(3).Select(c => c.GetProperty("function").GetProperty("arguments").GetString())));
        Assert.Equal(("call_2", "other", "{}"), (calls[3].GetProperty("id").GetString(), calls[3].GetProperty("function").GetProperty("name").GetString(),
            calls[3].GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Contains(lines, l => l.Contains("\"content\":\"Hello there.\""));
        Assert.Equal("tool_calls", JsonDocument.Parse(lines[^2]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.DoesNotContain(lines, l => l.Contains("\"usage\""));
    }

    [Fact]
    public void A_failure_is_an_error_chunk()
    {
        var output = new ArrayBufferWriter<byte>();
        using var writer = new ChatChunkWriter(output, includeUsage: false);
        writer.Write(Created.Item1, Encoding.UTF8.GetBytes(Created.Item2));
        Assert.True(writer.Started);
        writer.WriteError(ProxyErrors.StreamIncomplete());
        var blocks = Encoding.UTF8.GetString(output.WrittenSpan).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        var error = JsonDocument.Parse(blocks[^1][6..]).RootElement.GetProperty("error");
        Assert.Equal(ErrorCodes.StreamIncomplete, error.GetProperty("code").GetString());
        Assert.DoesNotContain(blocks, b => b.Contains("[DONE]"));
    }
}
