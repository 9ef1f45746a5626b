using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.EndToEnd;

/// <summary>
/// Chat Completions clients against the embedded product: they send no key and resend their whole history as chat
/// messages every turn; the bridge finds their conversation by content, and the simulator's ledger shows what went
/// upstream.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ChatCompletionsTests(ProductFixture product, ITestOutputHelper output)
{
    private const string Path = "/v1/chat/completions";

    private sealed record ChatResult(HttpStatusCode Status, string? ContentType, string Raw, HttpResponseHeaders Headers)
    {
        public JsonElement Json => JsonDocument.Parse(Raw).RootElement;

        /// <summary>The <c>data:</c> payloads of a streamed answer, <c>[DONE]</c> included.</summary>
        public List<string> Data => [.. Raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(b => b.StartsWith("data: ")).Select(b => b[6..])];

        public List<JsonElement> Chunks => [.. Data.Where(d => d != "[DONE]").Select(d => JsonDocument.Parse(d).RootElement)];

        public bool Streamed => ContentType == "text/event-stream";

        public string Id => (Streamed ? Chunks[0] : Json).GetProperty("id").GetString()!;

        /// <summary>The provider's response id the chat id was made from.</summary>
        public string ResponseId => "resp_" + Id["chatcmpl-".Length..];

        public string? Content => Streamed
            ? string.Concat(Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
                .Select(c => c.GetProperty("choices")[0].GetProperty("delta")).Select(d => d.TryGetProperty("content", out var t) ? t.GetString() : null))
            : Json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();

        public string FinishReason => (Streamed
            ? Chunks.Last(c => c.GetProperty("choices").GetArrayLength() > 0)
            : Json).GetProperty("choices")[0].GetProperty("finish_reason").GetString()!;

        public string? TurnState => Headers.TryGetValues("x-codex-turn-state", out var v) ? v.First() : null;
    }

    private async Task<ChatResult> PostAsync(JsonObject body, string path = Path, HttpClient? http = null)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await (http ?? product.Http).PostAsync(path, content);
        return new ChatResult(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    private async Task<ChatResult> TurnAsync(JsonObject body, string path = Path)
    {
        var result = await PostAsync(body, path);
        Assert.True(result.Status == HttpStatusCode.OK, result.Raw);
        return result;
    }

    private static JsonObject Body(IEnumerable<JsonNode> messages, bool stream = false, JsonObject? extra = null)
    {
        var body = new JsonObject { ["model"] = "gpt-5.5", ["messages"] = new JsonArray([.. messages.Select(m => m.DeepClone())]), ["stream"] = stream };
        foreach (var (name, value) in extra ?? []) body[name] = value?.DeepClone();
        return body;
    }

    private static JsonObject Message(string role, string? content) => new() { ["role"] = role, ["content"] = content };

    private static JsonObject Tools => new()
    {
        ["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "exec_command", ["description"] = "Runs a command", ["parameters"] = new JsonObject { ["type"] = "object" } },
        }),
    };

    private RequestRecord Upstream(string responseId) => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    [Fact]
    public async Task A_chat_completion_answers_with_the_response_it_ran()
    {
        var tag = Guid.NewGuid().ToString("N");
        var answer = await TurnAsync(Body([Message("system", "You are terse " + tag), Message("user", "hello")]));

        Assert.Equal("application/json", answer.ContentType);
        var json = answer.Json;
        Assert.StartsWith("chatcmpl-", answer.Id);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.Equal("gpt-5.5", json.GetProperty("model").GetString());
        Assert.True(json.GetProperty("created").GetInt64() > 1_600_000_000);
        var message = json.GetProperty("choices").EnumerateArray().Single().GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("Simulated answer #1.", message.GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("refusal").ValueKind);
        Assert.Equal("stop", answer.FinishReason);

        // The chat id names the upstream response; the usage is the provider's.
        var upstream = Upstream(answer.ResponseId);
        Assert.False(upstream.IsDelta);
        Assert.Equal(2, upstream.InputItemCount);
        var usage = json.GetProperty("usage");
        Assert.Equal(upstream.ContextTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(upstream.OutputTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(upstream.ContextTokens + upstream.OutputTokens, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.True(usage.GetProperty("completion_tokens_details").TryGetProperty("reasoning_tokens", out _));
    }

    [Fact]
    public async Task A_streamed_chat_completion_is_chunks_then_usage_then_done()
    {
        var body = Body([Message("user", "stream please " + Guid.NewGuid())], stream: true,
            new JsonObject { ["stream_options"] = new JsonObject { ["include_usage"] = true } });
        var answer = await TurnAsync(body, "/chat/completions");

        Assert.Equal("text/event-stream", answer.ContentType);
        Assert.Equal("[DONE]", answer.Data[^1]);
        var chunks = answer.Chunks;
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal(answer.Id, c.GetProperty("id").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.True(chunks.Count(c => c.GetProperty("choices").GetArrayLength() > 0
            && c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) && t.GetString()!.Length > 0) > 1, "the text came in one piece");
        Assert.Equal("Simulated answer #1.", answer.Content);
        Assert.Equal("stop", answer.FinishReason);
        var last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(Upstream(answer.ResponseId).ContextTokens, last.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
    }

    [Fact]
    public async Task A_tool_round_trip_sends_only_the_tool_result_upstream()
    {
        var tag = Guid.NewGuid().ToString("N");
        List<JsonNode> messages = [Message("system", "Use tools " + tag), Message("user", "please RUN_TOOL")];
        var first = await TurnAsync(Body(messages, stream: true, Tools));

        Assert.Equal("tool_calls", first.FinishReason);
        var calls = first.Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("tool_calls")[0]).ToList();
        Assert.NotEmpty(calls);
        Assert.All(calls, c => Assert.Equal(0, c.GetProperty("index").GetInt32()));
        var callId = calls[0].GetProperty("id").GetString()!;
        Assert.Equal("exec_command", calls[0].GetProperty("function").GetProperty("name").GetString());
        var arguments = string.Concat(calls.Select(c => c.GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Equal("""{"cmd":"echo sim-tool-ran"}""", arguments);
        // The provider reasoned before calling; none of it reaches a chat client.
        Assert.DoesNotContain("Simulating", first.Raw);
        Assert.DoesNotContain("encrypted", first.Raw);

        messages.Add(new JsonObject
        {
            ["role"] = "assistant",
            ["content"] = null,
            ["tool_calls"] = new JsonArray(new JsonObject
            {
                ["id"] = callId, ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = "exec_command", ["arguments"] = arguments },
            }),
        });
        messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId, ["content"] = "sim-tool-ran" });
        var second = await TurnAsync(Body(messages, stream: false, Tools));
        // The simulated model quotes the tool's output: it saw the result the chat client sent.
        Assert.StartsWith("Simulated answer #1.", second.Content);
        Assert.Contains("sim-tool-ran", second.Content);
        Assert.Equal("stop", second.FinishReason);
        Assert.Equal(first.TurnState, second.TurnState);

        var upstream = Upstream(second.ResponseId);
        output.WriteLine($"tool result turn: delta={upstream.IsDelta} items={upstream.InputItemCount} prev={upstream.PreviousResponseId}");
        Assert.True(upstream.IsDelta);
        Assert.Equal(first.ResponseId, upstream.PreviousResponseId);
        Assert.Equal(1, upstream.InputItemCount);
    }

    [Fact]
    public async Task A_tool_call_answered_without_streaming_has_tool_calls_and_no_content()
    {
        var answer = await TurnAsync(Body([Message("user", "RUN_TOOL " + Guid.NewGuid())], stream: false, Tools));
        var message = answer.Json.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = message.GetProperty("tool_calls").EnumerateArray().Single();
        Assert.StartsWith("call_", call.GetProperty("id").GetString());
        Assert.Equal("""{"cmd":"echo sim-tool-ran"}""", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", answer.FinishReason);
    }

    [Fact]
    public async Task Ten_turns_resending_the_history_send_each_message_upstream_once()
    {
        var tag = Guid.NewGuid().ToString("N");
        List<JsonNode> messages = [Message("system", "You are a chat bot " + tag), Message("user", "question 1")];
        var answers = new List<ChatResult>();
        for (var turn = 1; turn <= 10; turn++)
        {
            // Streamed and not, alternately: both answer forms must echo back to the same stored items.
            var answer = await TurnAsync(Body(messages, stream: turn % 2 == 0));
            answers.Add(answer);
            // The simulator numbers its answers by the assistant messages in its context: a history sent twice would skip ahead.
            Assert.Equal($"Simulated answer #{turn}.", answer.Content);
            messages.Add(Message("assistant", answer.Content));
            messages.Add(Message("user", $"question {turn + 1}"));
        }

        var sent = answers.Select(a => Upstream(a.ResponseId)).ToList();
        for (var i = 0; i < sent.Count; i++)
            output.WriteLine($"turn {i + 1}: delta={sent[i].IsDelta} items={sent[i].InputItemCount} new_tokens={sent[i].NewInputTokens} context={sent[i].ContextTokens} prev={sent[i].PreviousResponseId}");
        Assert.False(sent[0].IsDelta);
        Assert.Equal(2, sent[0].InputItemCount);
        for (var i = 1; i < sent.Count; i++)
        {
            Assert.True(sent[i].IsDelta, $"turn {i + 1} went upstream in full");
            Assert.Equal(answers[i - 1].ResponseId, sent[i].PreviousResponseId);
            Assert.Equal(1, sent[i].InputItemCount);
            Assert.Equal(sent[0].ConnectionId, sent[i].ConnectionId);
            // The provider's context grew by the last answer and the one new message, nothing more.
            Assert.Equal(sent[i - 1].ContextTokens + sent[i - 1].OutputTokens + sent[i].NewInputTokens, sent[i].ContextTokens);
        }
        Assert.Single(answers.Select(a => a.TurnState).Distinct());
        // Every message went upstream exactly once, in all: the system prompt and ten questions.
        Assert.Equal(11, product.Simulator.Ledger.Requests.Where(r => r.ConnectionId == sent[0].ConnectionId && r.Id >= sent[0].Id && r.Id <= sent[^1].Id)
            .Sum(r => r.InputItemCount));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"gpt-5.5"}""", "messages")]
    [InlineData("""{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"n":3}""", "n")]
    [InlineData("""{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2}""", "logprobs")]
    [InlineData("""{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}}""", "modalities")]
    [InlineData("""{"model":"gpt-5.5","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"best_of":2}""", "best_of")]
    public async Task Requests_it_cannot_honour_are_400s_naming_the_parameter(string json, string param)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await product.Http.PostAsync(Path, content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Without_a_valid_key_it_is_a_401()
    {
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        var answer = await PostAsync(Body([Message("user", "hi")]), http: anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("invalid_api_key", answer.Json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_provider_error_before_the_first_byte_is_its_status_even_when_streaming()
    {
        var answer = await PostAsync(Body([Message("user", $"hi [sim:error=invalid_prompt/400#{Guid.NewGuid():N}]")], stream: true));
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal("application/json", answer.ContentType);
        Assert.Equal("invalid_prompt", answer.Json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_failure_after_the_first_byte_ends_the_stream_with_an_error_chunk()
    {
        var streamed = await PostAsync(Body([Message("user", $"hi [sim:failed=server_error#{Guid.NewGuid():N}]")], stream: true));
        Assert.Equal(HttpStatusCode.OK, streamed.Status);
        Assert.Equal("assistant", streamed.Chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var error = JsonDocument.Parse(streamed.Data[^1]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("code").GetString());
        Assert.DoesNotContain("[DONE]", streamed.Data);

        var whole = await PostAsync(Body([Message("user", $"hi [sim:failed=server_error#{Guid.NewGuid():N}]")]));
        Assert.Equal(HttpStatusCode.BadGateway, whole.Status);
        Assert.Equal("server_error", whole.Json.GetProperty("error").GetProperty("code").GetString());
    }
}
