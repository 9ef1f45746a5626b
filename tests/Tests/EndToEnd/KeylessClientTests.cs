using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.EndToEnd;

/// <summary>
/// Clients that resend their full history and send no conversation key, with the request shapes the SDKs really send
/// (no session headers, no prompt_cache_key, no x-codex-turn-state): from their second turn on, the bridge finds the
/// conversation by content and only the new items go upstream.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class KeylessClientTests(ProductFixture product, ITestOutputHelper output)
{
    private const string Path = "/v1/responses";

    private RequestRecord Upstream(string responseId) => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    private static JsonObject Body(IEnumerable<JsonNode> input, JsonObject? extra = null)
    {
        var body = new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonArray([.. input.Select(i => i.DeepClone())]) };
        foreach (var (name, value) in extra ?? []) body[name] = value?.DeepClone();
        return body;
    }

    private async Task<TurnResult> TurnAsync(JsonObject body)
    {
        var result = await SseClient.PostAsync(product.Http, Path, body);
        Assert.True(result.Status == System.Net.HttpStatusCode.OK, result.RawBody);
        return result;
    }

    private static IEnumerable<JsonElement> Outputs(TurnResult turn) =>
        turn.Events.Count > 0 ? turn.OutputItems : turn.Json.GetProperty("output").EnumerateArray().Select(e => e.Clone());

    private static string IdOf(TurnResult turn) => turn.ResponseId ?? turn.Json.GetProperty("id").GetString()!;

    /// <summary>Asserts the turn went upstream as a delta carrying exactly <paramref name="newItems"/> items.</summary>
    private void AssertDelta(TurnResult turn, int newItems, string label)
    {
        var sent = Upstream(IdOf(turn));
        output.WriteLine($"{label}: delta={sent.IsDelta} items={sent.InputItemCount} prev={sent.PreviousResponseId} new_tokens={sent.NewInputTokens}");
        Assert.True(sent.IsDelta, $"{label} went upstream in full ({sent.InputItemCount} items)");
        Assert.Equal(newItems, sent.InputItemCount);
    }

    [Fact]
    public async Task Openai_npm_sdk_history_with_output_items_echoed_verbatim()
    {
        // client.responses.create({ model, input }) with input = [...history, ...response.output, { role, content }]
        List<JsonNode> history = [new JsonObject { ["role"] = "user", ["content"] = "npm q1 " + Guid.NewGuid() }];
        var first = await TurnAsync(Body(history, new JsonObject { ["stream"] = false }));
        history.AddRange(Outputs(first).Select(o => o.ToNode()));
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "npm q2" });
        var second = await TurnAsync(Body(history, new JsonObject { ["stream"] = false }));
        AssertDelta(second, 1, "npm turn 2");
        Assert.Equal(first.TurnState, second.TurnState);
    }

    [Fact]
    public async Task Dotnet_sdk_typed_items_with_output_items_echoed()
    {
        // ResponseItem.CreateUserMessageItem(…) plus the response's OutputItems, streamed.
        List<JsonNode> history = [Items.Message("user", "dotnet q1 " + Guid.NewGuid())];
        var first = await TurnAsync(Body(history, new JsonObject { ["stream"] = true }));
        for (var turn = 2; turn <= 4; turn++)
        {
            history.AddRange(first.OutputItems.Select(o => o.ToNode()));
            history.Add(Items.Message("user", $"dotnet q{turn}"));
            first = await TurnAsync(Body(history, new JsonObject { ["stream"] = true }));
            AssertDelta(first, 1, $"dotnet turn {turn}");
        }
    }

    [Fact]
    public async Task Vercel_ai_sdk_messages_with_reasoning_dropped_and_assistant_text_as_output_text()
    {
        // @ai-sdk/openai (store:false): system as a role message, assistant text as output_text parts with the item id,
        // reasoning dropped (no encrypted content to send back), tool results as function_call_output.
        var tag = Guid.NewGuid().ToString("N")[..8];
        List<JsonNode> history =
        [
            new JsonObject { ["role"] = "system", ["content"] = "You are helpful " + tag },
            new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = "please RUN_TOOL" }) },
        ];
        var extra = new JsonObject { ["stream"] = true, ["store"] = false,
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "exec_command", ["strict"] = false, ["parameters"] = new JsonObject() }) };
        var first = await TurnAsync(Body(history, extra));
        var call = first.OutputItems.Single(o => o.GetProperty("type").GetString() == "function_call");
        history.AddRange(VercelEcho(first));
        history.Add(new JsonObject { ["type"] = "function_call_output", ["call_id"] = call.GetProperty("call_id").GetString(), ["output"] = "tool ok" });
        var second = await TurnAsync(Body(history, extra));
        AssertDelta(second, 1, "vercel tool result");

        history.AddRange(VercelEcho(second));
        history.Add(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = "thanks" }) });
        var third = await TurnAsync(Body(history, extra));
        AssertDelta(third, 1, "vercel next message");
    }

    private static IEnumerable<JsonNode> VercelEcho(TurnResult turn)
    {
        foreach (var item in turn.OutputItems)
        {
            switch (item.GetProperty("type").GetString())
            {
                case "reasoning":
                    continue;
                case "message":
                    yield return new JsonObject
                    {
                        ["role"] = "assistant",
                        ["content"] = new JsonArray([.. item.GetProperty("content").EnumerateArray()
                            .Select(p => new JsonObject { ["type"] = "output_text", ["text"] = p.GetProperty("text").GetString() })]),
                        ["id"] = item.GetProperty("id").GetString(),
                    };
                    break;
                case "function_call":
                    yield return new JsonObject
                    {
                        ["type"] = "function_call", ["call_id"] = item.GetProperty("call_id").GetString(), ["name"] = item.GetProperty("name").GetString(),
                        ["arguments"] = item.GetProperty("arguments").GetString(), ["id"] = item.GetProperty("id").GetString(),
                    };
                    break;
            }
        }
    }

    [Fact]
    public async Task Openai_agents_sdk_tool_loop_and_result_history_with_instructions_outside_the_input()
    {
        // @openai/agents: instructions as a top-level field, user input as a typed message with string content, its own
        // tool loop (function_call echoed, function_call_output appended), then result.history as the next turn's input.
        var extra = new JsonObject { ["instructions"] = "You are an agent " + Guid.NewGuid(), ["stream"] = true, ["parallel_tool_calls"] = false,
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "exec_command", ["strict"] = true, ["parameters"] = new JsonObject() }) };
        List<JsonNode> history = [new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = "please RUN_TOOL" }];
        var first = await TurnAsync(Body(history, extra));
        history.AddRange(first.OutputItems.Select(o => o.ToNode()));
        var call = first.OutputItems.Single(o => o.GetProperty("type").GetString() == "function_call");
        history.Add(new JsonObject { ["type"] = "function_call_output", ["call_id"] = call.GetProperty("call_id").GetString(), ["output"] = "42" });
        var toolTurn = await TurnAsync(Body(history, extra));
        AssertDelta(toolTurn, 1, "agents tool loop");

        history.AddRange(toolTurn.OutputItems.Select(o => o.ToNode()));
        history.Add(new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = "next question" });
        var next = await TurnAsync(Body(history, extra));
        AssertDelta(next, 1, "agents result.history");
    }

    [Fact]
    public async Task Keyless_clients_are_matched_only_within_their_own_tenant()
    {
        var history = new List<JsonNode> { new JsonObject { ["role"] = "user", ["content"] = "tenant q1 " + Guid.NewGuid() } };
        var first = await TurnAsync(Body(history));
        history.AddRange(Outputs(first).Select(o => o.ToNode()));
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "q2" });

        // The same history under another API key is a new conversation, sent in full.
        using var other = new HttpClient { BaseAddress = product.BaseUrl };
        other.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var stranger = await SseClient.PostAsync(other, Path, Body(history, new JsonObject { ["stream"] = true }));
        Assert.Equal(System.Net.HttpStatusCode.OK, stranger.Status);
        Assert.NotEqual(first.TurnState, stranger.TurnState);
        Assert.False(Upstream(stranger.ResponseId!).IsDelta);
    }
}
