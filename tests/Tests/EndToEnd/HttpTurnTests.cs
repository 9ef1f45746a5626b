using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.EndToEnd;

[Collection(ProductCollection.Name)]
public sealed class HttpTurnTests(ProductFixture product)
{
    private const string Path = "/v1/responses";

    private RequestRecord Upstream(string responseId) => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    [Fact]
    public async Task Codex_style_full_history_turns_go_upstream_as_deltas_over_one_socket()
    {
        var session = Items.Session(Guid.NewGuid().ToString());
        var history = new List<JsonNode> { Items.Message("developer", "You are Codex. " + new string('x', 4000)), Items.Message("user", "first question") };

        var first = await SseClient.PostAsync(product.Http, Path, Items.Body(history), session);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("text/event-stream", first.ContentType);
        Assert.Equal("response.created", first.Events[0].Type);
        Assert.Equal("response.completed", first.Events[^1].Type);
        Assert.NotNull(first.TurnState);
        var sequence = first.Events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, sequence.Count), sequence);

        history.AddRange(first.OutputItems.Select(i => i.ToNode()));
        history.Add(Items.Message("user", "second question"));
        var second = await SseClient.PostAsync(product.Http, Path, Items.Body(history), session);
        Assert.Equal("response.completed", second.Terminal!.Type);

        history.AddRange(second.OutputItems.Select(i => i.ToNode()));
        history.Add(Items.Message("user", "third question"));
        var third = await SseClient.PostAsync(product.Http, Path, Items.Body(history), session);
        Assert.Equal("response.completed", third.Terminal!.Type);

        var (u1, u2, u3) = (Upstream(first.ResponseId!), Upstream(second.ResponseId!), Upstream(third.ResponseId!));
        Assert.False(u1.IsDelta);
        Assert.True(u2.IsDelta);
        Assert.Equal(first.ResponseId, u2.PreviousResponseId);
        Assert.Equal(1, u2.InputItemCount);
        Assert.True(u3.IsDelta);
        Assert.Equal(second.ResponseId, u3.PreviousResponseId);
        Assert.Equal(u1.ConnectionId, u2.ConnectionId);
        Assert.Equal(u1.ConnectionId, u3.ConnectionId);
        // The provider saw the context once: turn 3's context = turn 2's context + turn 2's output + one new item.
        Assert.True(u3.CachedTokens >= u2.ContextTokens, $"cached {u3.CachedTokens} < previous context {u2.ContextTokens}");
        Assert.True(u3.NewInputTokens < 50, $"new input {u3.NewInputTokens} tokens: history was resent");
    }

    [Fact]
    public async Task Sdk_style_previous_response_id_with_only_new_input_works_across_turns()
    {
        var first = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "hello sdk")], stream: false));
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("application/json", first.ContentType);
        var firstId = first.Json.GetProperty("id").GetString()!;
        Assert.Equal("completed", first.Json.GetProperty("status").GetString());

        var second = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "and again")], stream: false, previousResponseId: firstId));
        Assert.Equal(HttpStatusCode.OK, second.Status);
        var secondId = second.Json.GetProperty("id").GetString()!;

        var third = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "third")], previousResponseId: secondId));
        Assert.Equal("response.completed", third.Terminal!.Type);

        var (u2, u3) = (Upstream(secondId), Upstream(third.ResponseId!));
        Assert.True(u2.IsDelta);
        Assert.Equal(firstId, u2.PreviousResponseId);
        Assert.True(u3.IsDelta);
        Assert.Equal(secondId, u3.PreviousResponseId);
        Assert.Equal(u2.ConnectionId, u3.ConnectionId);
    }

    [Fact]
    public async Task An_id_this_cluster_never_issued_is_400_previous_response_not_found()
    {
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "hi")], previousResponseId: "resp_never_issued"));
        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        var error = result.Json.GetProperty("error");
        Assert.Equal("previous_response_not_found", error.GetProperty("code").GetString());
        Assert.Equal("previous_response_id", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_tool_call_turn_and_its_follow_up_complete_as_a_delta()
    {
        var session = Items.Session(Guid.NewGuid().ToString());
        var history = new List<JsonNode> { Items.Message("developer", "sys"), Items.Message("user", "please RUN_TOOL now") };
        var call = await SseClient.PostAsync(product.Http, Path, Items.Body(history), session);
        var functionCall = call.OutputItems.Single(i => i.GetProperty("type").GetString() == "function_call");
        Assert.Contains(call.Events, e => e.Type == "response.function_call_arguments.delta" || e.Type == "response.function_call_arguments.done");

        history.AddRange(call.OutputItems.Select(i => i.ToNode()));
        history.Add(Items.FunctionOutput(functionCall.GetProperty("call_id").GetString()!, "sim-tool-ran"));
        var followUp = await SseClient.PostAsync(product.Http, Path, Items.Body(history), session);
        Assert.Equal("response.completed", followUp.Terminal!.Type);
        Assert.Contains(followUp.OutputItems, i => i.GetProperty("type").GetString() == "message");
        var upstream = Upstream(followUp.ResponseId!);
        Assert.True(upstream.IsDelta);
        Assert.Equal(1, upstream.InputItemCount);
    }

    [Fact]
    public async Task Upstream_handshake_carries_the_configured_key_and_beta_header()
    {
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "who am i")]));
        var connection = product.Simulator.Ledger.Connections.Single(c => c.Id == Upstream(result.ResponseId!).ConnectionId);
        Assert.Equal("Bearer " + ProductFixture.UpstreamKey, connection.Authorization);
        Assert.Equal("responses_websockets=2026-02-06", connection.OpenAIBeta);
    }

    [Fact]
    public async Task Slow_streams_get_keepalive_comments_and_still_complete()
    {
        var marker = "slow-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(450)).WhenTextContains(marker));
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", marker)]));
        Assert.Equal("response.completed", result.Terminal!.Type);
        Assert.True(result.KeepAlives > 0, "no keepalive comment on a stream with 450 ms gaps (interval 200 ms)");
    }

    [Fact]
    public async Task An_sse_answer_reaches_the_client_while_the_provider_still_generates_it_with_headers_that_keep_proxies_from_buffering()
    {
        var marker = "streaming-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(250)) with { TextDeltas = 4 }).WhenTextContains(marker).Times(1));
        using var request = new HttpRequestMessage(HttpMethod.Post, Path)
        {
            Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(Items.Body([Items.Message("user", marker)])), System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await product.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        // The headers are committed before the first event and go out with it: all of them, set before the answer started.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Equal("no", Assert.Single(response.Headers.GetValues("X-Accel-Buffering")));
        Assert.False(string.IsNullOrEmpty(Assert.Single(response.Headers.GetValues("x-codex-turn-state"))));
        Assert.True(long.TryParse(Assert.Single(response.Headers.GetValues("x-codexlb-gateway-us")), out _));

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("event: response.created", await reader.ReadLineAsync());
        var data = (await reader.ReadLineAsync())!;
        var responseId = JsonNode.Parse(data["data: ".Length..])!["response"]!["id"]!.GetValue<string>();
        // The provider still has ~3 s of its answer to send: the first event was not held back until the answer was whole.
        Assert.Equal(RequestOutcome.InFlight, Upstream(responseId).Outcome);

        var rest = await reader.ReadToEndAsync();
        Assert.Contains("event: response.completed", rest);
        Assert.Equal(RequestOutcome.Completed, Upstream(responseId).Outcome);
    }

    [Fact]
    public async Task A_provider_silent_longer_than_the_owner_timeout_is_not_mistaken_for_owner_loss()
    {
        var marker = "silent-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(4), TimeSpan.Zero).WhenTextContains(marker));
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", marker)]));
        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Equal("response.completed", result.Terminal!.Type);
        Assert.DoesNotContain(result.Events, e => e.Type.StartsWith("codexlb."));
        Assert.Single(product.Simulator.Ledger.Requests, r => r.ResponseId == result.ResponseId);
    }

    [Fact]
    public async Task A_turn_queued_behind_a_slow_one_longer_than_the_owner_timeout_runs_once()
    {
        var session = Items.Session(Guid.NewGuid().ToString());
        var marker = "slow-first-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(4), TimeSpan.Zero).WhenTextContains(marker));
        var before = product.Simulator.Ledger.Requests.Count;
        var slow = SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", marker)]), session);
        await product.Simulator.Ledger.WaitUntilAsync(l => l.Requests.Count > before, TimeSpan.FromSeconds(30));
        var queued = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "queued behind it")]), session);
        Assert.Equal("response.completed", (await slow).Terminal!.Type);
        Assert.Equal("response.completed", queued.Terminal!.Type);
        Assert.Equal(2, product.Simulator.Ledger.Requests.Count - before); // the queued turn was not abandoned and resent
    }

    [Fact]
    public async Task A_refused_upstream_handshake_is_502_upstream_unavailable_with_retry_after_never_400()
    {
        product.Simulator.Faults.Add(Fault.RefuseHandshake(503));
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "new conversation")]));
        Assert.Equal(HttpStatusCode.BadGateway, result.Status);
        Assert.Equal("upstream_unavailable", result.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.NotNull(result.Headers.RetryAfter);
    }

    [Fact]
    public async Task An_upstream_429_handshake_is_429_with_retry_after()
    {
        product.Simulator.Faults.Add(Fault.RefuseHandshake(429, TimeSpan.FromSeconds(3)));
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", "rate limited")]));
        Assert.Equal(HttpStatusCode.TooManyRequests, result.Status);
        Assert.Equal(TimeSpan.FromSeconds(3), result.Headers.RetryAfter!.Delta);
    }

    [Fact]
    public async Task Context_length_exceeded_passes_through_as_the_client_error_it_is()
    {
        var marker = "too-long-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Error(400, "context_length_exceeded", "Your input exceeds the context window.").WhenTextContains(marker));
        var result = await SseClient.PostAsync(product.Http, Path, Items.Body([Items.Message("user", marker)]));
        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal("context_length_exceeded", result.Json.GetProperty("error").GetProperty("code").GetString());
    }
}
