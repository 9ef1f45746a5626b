using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Recovery;

/// <summary>
/// The recovery contract, one test per row, end to end: real gateway (HTTP, SSE) → conversation grain → upstream
/// websocket → simulator with injected faults. Every request fault targets a unique marker in the user text; handshake
/// faults hit the next connection (tests of the product collection run one at a time). Leftover faults are dropped
/// after each test.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class RecoveryContractTests(ProductFixture product, ITestOutputHelper output) : IDisposable
{
    private readonly UpstreamLedger _upstream = new(product.Simulator);

    private FaultPlan Faults => product.Simulator.Faults;

    public void Dispose() => Faults.Clear();

    private ClientConversation NewConversation(ClientStyle style) => new(product.Http, style);

    private static JsonNode Developer() => Items.Message("developer", "You are a coding agent. " + new string('r', 2000));

    private static int Tokens(JsonNode item) => TokenCounter.Count(item.ToJsonString());

    private void Log(string title, IEnumerable<RequestRecord> requests) => output.WriteLine(title + "\n" + LedgerText.Lines(requests));

    /// <summary>Asserts that a request carried the whole conversation: no anchor, and the context the client holds.</summary>
    private static void AssertFullSend(RequestRecord request, int expectedContextTokens, string because)
    {
        Assert.False(request.IsDelta, because + ": expected a full (unanchored) send");
        Assert.Null(request.PreviousResponseId);
        Assert.Equal(expectedContextTokens, request.ContextTokens);
        Assert.Equal(0, request.CachedTokens);
    }

    private static void AssertDelta(RequestRecord request, string anchor, long connectionId, int newItems = 1)
    {
        Assert.True(request.IsDelta, $"expected a delta anchored on {anchor}, got delta={request.IsDelta} prev={request.PreviousResponseId}");
        Assert.Equal(anchor, request.PreviousResponseId);
        Assert.Equal(connectionId, request.ConnectionId);
        Assert.Equal(newItems, request.InputItemCount);
    }

    // ---- row: upstream socket closed between turns ----

    [Theory]
    [InlineData(ClientStyle.FullHistory)]
    [InlineData(ClientStyle.PreviousResponseId)]
    public async Task Socket_closed_between_turns_next_turn_reconnects_sends_full_context_once_then_deltas(ClientStyle style)
    {
        var conversation = NewConversation(style);
        var close = Rx.Marker("close-between");
        Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(close));
        var first = await conversation.TurnAsync(Developer(), Rx.User("first " + close));
        var u1 = _upstream.Of(first.ResponseId!);
        Assert.Equal("CloseBetweenTurns", u1.Fault);
        await _upstream.WaitClosedAsync(u1.ConnectionId!.Value);

        var mark = _upstream.Mark();
        var secondUser = Rx.User("second");
        var second = await conversation.TurnAsync(secondUser);
        var sent = _upstream.Since(mark);
        Log("after the close:", sent);
        var u2 = Assert.Single(sent);
        Assert.Equal(second.ResponseId, u2.ResponseId);
        Assert.NotEqual(u1.ConnectionId, u2.ConnectionId);
        AssertFullSend(u2, u1.ContextTokens + u1.OutputTokens + Tokens(secondUser), "first turn on the new socket");
        Assert.Equal(2 + first.OutputItems.Count + 1, u2.InputItemCount);

        mark = _upstream.Mark();
        var third = await conversation.TurnAsync(Rx.User("third"));
        var u3 = Assert.Single(_upstream.Since(mark));
        AssertDelta(u3, second.ResponseId!, u2.ConnectionId!.Value);
        Assert.Equal(third.ResponseId, u3.ResponseId);
        Assert.Equal(u2.ContextTokens + u2.OutputTokens, u3.CachedTokens);
    }

    // ---- row: socket lost after sending, before response.created ----

    [Theory]
    [InlineData(ClientStyle.FullHistory)]
    [InlineData(ClientStyle.PreviousResponseId)]
    public async Task Socket_lost_before_response_created_is_replayed_once_on_a_fresh_socket_from_the_stored_context(ClientStyle style)
    {
        var conversation = NewConversation(style);
        var first = await conversation.TurnAsync(Developer(), Rx.User("first"));
        var u1 = _upstream.Of(first.ResponseId!);

        var lost = Rx.Marker("close-before-created");
        Faults.Add(Fault.CloseBefore(0).WhenTextContains(lost));
        var mark = _upstream.Mark();
        var secondUser = Rx.User("second " + lost);
        var second = await conversation.TurnAsync(secondUser);
        var sent = _upstream.Since(mark);
        Log("lost before created:", sent);
        Assert.Equal(2, sent.Count);
        AssertDelta(sent[0], first.ResponseId!, u1.ConnectionId!.Value);
        Assert.Equal(RequestOutcome.ClosedByFault, sent[0].Outcome);
        Assert.Equal("CloseBeforeEvent(0)", sent[0].Fault);
        var replay = sent[1];
        Assert.Equal(second.ResponseId, replay.ResponseId);
        Assert.NotEqual(u1.ConnectionId, replay.ConnectionId);
        AssertFullSend(replay, u1.ContextTokens + u1.OutputTokens + Tokens(secondUser), "the replay");

        mark = _upstream.Mark();
        var third = await conversation.TurnAsync(Rx.User("third"));
        AssertDelta(Assert.Single(_upstream.Since(mark)), second.ResponseId!, replay.ConnectionId!.Value);
        Assert.NotNull(third.ResponseId);
    }

    // ---- row: socket lost after events reached the client ----

    [Theory]
    [InlineData(ClientStyle.FullHistory, true)]
    [InlineData(ClientStyle.PreviousResponseId, true)]
    [InlineData(ClientStyle.FullHistory, false)]
    [InlineData(ClientStyle.PreviousResponseId, false)]
    public async Task Socket_lost_after_events_reached_the_client_ends_with_retryable_stream_incomplete_and_the_conversation_stays_valid(ClientStyle style, bool retrySameTurn)
    {
        var conversation = NewConversation(style);
        var first = await conversation.TurnAsync(Developer(), Rx.User("first"));
        var u1 = _upstream.Of(first.ResponseId!);

        var cut = Rx.Marker("close-mid-stream");
        Faults.Add(Fault.CloseAfter(2).WhenTextContains(cut));
        var body = conversation.Next(Rx.User("second " + cut));
        var failed = await conversation.SendAsync(body);
        output.WriteLine("cut mid-stream: " + Rx.Describe(failed));
        Assert.Equal(HttpStatusCode.OK, failed.Status);
        Assert.Equal("text/event-stream", failed.ContentType);
        Assert.Equal("response.created", failed.Events[0].Type);
        Assert.Equal("response.failed", failed.Terminal?.Type);
        Assert.Equal("response.failed", failed.Events[^1].Type);
        Assert.DoesNotContain(failed.Events, e => e.Type == "response.completed");
        Assert.Equal("stream_incomplete", Rx.ErrorCodeOf(failed));
        Assert.True(Rx.IsRetryableCode(Rx.ErrorCodeOf(failed)));
        Assert.Equal(first.ResponseId, conversation.LastResponseId);

        // Either the client retries the very same request (the Codex CLI: same full input; an SDK client: same
        // previous_response_id), or it gives the turn up and sends a new one anchored on the last completed id.
        var mark = _upstream.Mark();
        var newUser = retrySameTurn ? null : Rx.User("second, asked differently");
        var nextBody = newUser is null ? body : conversation.Next(newUser);
        if (style == ClientStyle.PreviousResponseId) Assert.Equal(first.ResponseId, nextBody["previous_response_id"]!.GetValue<string>());
        var retried = await conversation.SendAsync(nextBody);
        Rx.AssertNormalCompleted(retried);
        var sent = _upstream.Since(mark);
        Log(retrySameTurn ? "retry of the cut turn:" : "new turn after the cut one:", sent);
        var retry = Assert.Single(sent);
        Assert.NotEqual(u1.ConnectionId, retry.ConnectionId);
        var lastInput = retrySameTurn ? (JsonNode)body["input"]!.AsArray()[^1]! : newUser!;
        AssertFullSend(retry, u1.ContextTokens + u1.OutputTokens + Tokens(lastInput), "the first send on a fresh socket");

        // The next turn is anchored on the last completed id.
        mark = _upstream.Mark();
        var third = await conversation.TurnAsync(Rx.User("third"));
        AssertDelta(Assert.Single(_upstream.Since(mark)), retried.ResponseId!, retry.ConnectionId!.Value);
        Assert.NotNull(third.ResponseId);
    }

    // ---- row: upstream previous_response_not_found for an anchor we sent ----

    [Theory]
    [InlineData(ClientStyle.FullHistory)]
    [InlineData(ClientStyle.PreviousResponseId)]
    public async Task Upstream_previous_response_not_found_for_our_anchor_is_answered_by_one_transparent_full_resend(ClientStyle style)
    {
        var conversation = NewConversation(style);
        var first = await conversation.TurnAsync(Developer(), Rx.User("first"));
        var u1 = _upstream.Of(first.ResponseId!);

        var forget = Rx.Marker("anchor-forgotten");
        Faults.Add(Fault.Error(400, "previous_response_not_found").WhenTextContains(forget));
        var mark = _upstream.Mark();
        var secondUser = Rx.User("second " + forget);
        var second = await conversation.TurnAsync(secondUser);
        Rx.AssertNotPreviousResponseNotFound(second);
        var sent = _upstream.Since(mark);
        Log("anchor forgotten upstream:", sent);
        Assert.Equal(2, sent.Count);
        AssertDelta(sent[0], first.ResponseId!, u1.ConnectionId!.Value);
        Assert.Equal(RequestOutcome.Error, sent[0].Outcome);
        Assert.Equal("previous_response_not_found", sent[0].ErrorCode);
        Assert.Equal(second.ResponseId, sent[1].ResponseId);
        AssertFullSend(sent[1], u1.ContextTokens + u1.OutputTokens + Tokens(secondUser), "the resend after previous_response_not_found");

        mark = _upstream.Mark();
        await conversation.TurnAsync(Rx.User("third"));
        AssertDelta(Assert.Single(_upstream.Since(mark)), second.ResponseId!, sent[1].ConnectionId!.Value);
    }

    // ---- row: upstream handshake refused / 5xx (anchored) ----

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId, 503)]
    [InlineData(ClientStyle.PreviousResponseId, 500)]
    [InlineData(ClientStyle.PreviousResponseId, 502)]
    [InlineData(ClientStyle.FullHistory, 503)]
    public async Task Handshake_refused_after_the_socket_closed_is_502_upstream_unavailable_never_400_then_the_same_anchor_succeeds(ClientStyle style, int status)
    {
        var conversation = NewConversation(style);
        var close = Rx.Marker("close-between");
        Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(close));
        var first = await conversation.TurnAsync(Developer(), Rx.User("first " + close));
        var u1 = _upstream.Of(first.ResponseId!);
        await _upstream.WaitClosedAsync(u1.ConnectionId!.Value);

        Faults.Add(Fault.RefuseHandshake(status));
        var connections = _upstream.ConnectionMark();
        var mark = _upstream.Mark();
        var secondUser = Rx.User("second");
        var body = conversation.Next(secondUser);
        if (style == ClientStyle.PreviousResponseId) Assert.Equal(first.ResponseId, body["previous_response_id"]!.GetValue<string>());
        var refused = await conversation.SendAsync(body);
        output.WriteLine($"handshake {status}: " + Rx.Describe(refused));
        Rx.AssertNever400(refused);
        Rx.AssertNotPreviousResponseNotFound(refused);
        Assert.Equal(HttpStatusCode.BadGateway, refused.Status);
        Assert.Equal("application/json", refused.ContentType); // before any byte of a stream
        Assert.Empty(refused.Events);
        Assert.Equal("upstream_unavailable", Rx.ErrorCodeOf(refused));
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains(_upstream.ConnectionsSince(connections), c => c.EndedBy == ConnectionEnd.HandshakeRefused);
        Assert.Empty(_upstream.Since(mark));

        var retried = await conversation.SendAsync(body);
        Rx.AssertNormalCompleted(retried);
        var retry = Assert.Single(_upstream.Since(mark));
        AssertFullSend(retry, u1.ContextTokens + u1.OutputTokens + Tokens(secondUser), "the first send on the new socket");
    }

    // ---- beyond the table: the provider's own connection limit (a socket older than it allows) ----

    [Fact]
    public async Task Provider_connection_limit_reached_is_never_a_400_to_the_client()
    {
        var conversation = NewConversation(ClientStyle.PreviousResponseId);
        var first = await conversation.TurnAsync(Developer(), Rx.User("first"));
        var u1 = _upstream.Of(first.ResponseId!);
        var options = product.Simulator.Options;
        var lifetime = options.MaxConnectionLifetime;
        try
        {
            // The first socket outlives the provider's limit; a fresh one does not (2 s to send its first request).
            await Task.Delay(TimeSpan.FromSeconds(3));
            options.MaxConnectionLifetime = TimeSpan.FromSeconds(2);
            var mark = _upstream.Mark();
            var body = conversation.Next(Rx.User("second"));
            var attempts = await conversation.SendWithRetriesAsync(body);
            options.MaxConnectionLifetime = lifetime;
            var sent = _upstream.Since(mark);
            Log("connection limit:", sent);
            foreach (var a in attempts) output.WriteLine("client saw: " + Rx.Describe(a));
            Assert.Contains(sent, r => r.ConnectionId == u1.ConnectionId && r.ErrorCode == "websocket_connection_limit_reached");
            foreach (var a in attempts)
            {
                Rx.AssertNever400(a);
                Rx.AssertNotPreviousResponseNotFound(a);
            }
            Assert.True(Rx.IsCompleted(attempts[^1]), Rx.Describe(attempts[^1]));
        }
        finally
        {
            options.MaxConnectionLifetime = lifetime;
        }
    }

    // ---- row: upstream 429 ----

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Upstream_429_at_the_handshake_is_429_with_retry_after_then_the_conversation_continues(ClientStyle style)
    {
        var conversation = NewConversation(style);
        var close = Rx.Marker("close-between");
        Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(close));
        var first = await conversation.TurnAsync(Developer(), Rx.User("first " + close));
        await _upstream.WaitClosedAsync(_upstream.Of(first.ResponseId!).ConnectionId!.Value);

        Faults.Add(Fault.RefuseHandshake(429, TimeSpan.FromSeconds(3), "rate_limit_exceeded"));
        var body = conversation.Next(Rx.User("second"));
        var limited = await conversation.SendAsync(body);
        output.WriteLine("handshake 429: " + Rx.Describe(limited));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.Equal(TimeSpan.FromSeconds(3), limited.Headers.RetryAfter?.Delta);
        Rx.AssertNotPreviousResponseNotFound(limited);

        Rx.AssertNormalCompleted(await conversation.SendAsync(body));
        Rx.AssertNormalCompleted(await conversation.SendAsync(conversation.Next(Rx.User("third"))));
    }

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Upstream_429_error_frame_mid_conversation_is_429_with_retry_after_then_the_retry_succeeds(ClientStyle style)
    {
        var conversation = NewConversation(style);
        var first = await conversation.TurnAsync(Developer(), Rx.User("first"));
        var u1 = _upstream.Of(first.ResponseId!);

        var limit = Rx.Marker("rate-limited");
        Faults.Add(Fault.Error(429, "rate_limit_exceeded", "Rate limit reached.").WhenTextContains(limit));
        var secondUser = Rx.User("second " + limit);
        var body = conversation.Next(secondUser);
        var mark = _upstream.Mark();
        var limited = await conversation.SendAsync(body);
        output.WriteLine("429 frame: " + Rx.Describe(limited));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal("rate_limit_exceeded", Rx.ErrorCodeOf(limited));

        var retried = await conversation.SendAsync(body);
        Rx.AssertNormalCompleted(retried);
        var sent = _upstream.Since(mark);
        Log("429 then retry:", sent);
        Assert.Equal(2, sent.Count);
        Assert.DoesNotContain(sent, r => r.AnchorValid == false); // never an anchor the provider just evicted
        AssertFullSend(sent[1], u1.ContextTokens + u1.OutputTokens + Tokens(secondUser), "the retry after the provider evicted its state");
    }

    // ---- row: context_length_exceeded ----

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Context_length_exceeded_is_passed_through_as_400(ClientStyle style)
    {
        var conversation = NewConversation(style);
        await conversation.TurnAsync(Developer(), Rx.User("first"));
        var tooLong = Rx.Marker("too-long");
        Faults.Add(Fault.Error(400, "context_length_exceeded", "Your input exceeds the context window of this model.").WhenTextContains(tooLong));
        var result = await conversation.SendAsync(conversation.Next(Rx.User("second " + tooLong)));
        output.WriteLine(Rx.Describe(result));
        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal("context_length_exceeded", Rx.ErrorCodeOf(result));
        Assert.Equal("invalid_request_error", result.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.Null(result.Headers.RetryAfter);
    }

    [Fact]
    public async Task Context_length_exceeded_as_response_failed_keeps_its_non_retryable_code()
    {
        var conversation = NewConversation(ClientStyle.FullHistory);
        await conversation.TurnAsync(Developer(), Rx.User("first"));
        var tooLong = Rx.Marker("too-long-failed");
        Faults.Add(Fault.Failed("context_length_exceeded").WhenTextContains(tooLong));
        var result = await conversation.SendAsync(conversation.Next(Rx.User("second " + tooLong)));
        output.WriteLine(Rx.Describe(result));
        Assert.Equal("response.failed", result.Terminal?.Type);
        Assert.Equal("context_length_exceeded", Rx.ErrorCodeOf(result));
    }

    // ---- row: previous_response_id this cluster never issued ----

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_previous_response_id_this_cluster_never_issued_is_400_previous_response_not_found(bool stream)
    {
        var mark = _upstream.Mark();
        var id = "resp_" + Guid.NewGuid().ToString("N");
        var result = await SseClient.PostAsync(product.Http, ClientConversation.Path, Items.Body([Rx.User("hi")], stream, previousResponseId: id));
        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        var error = result.Json.GetProperty("error");
        Assert.Equal("previous_response_not_found", error.GetProperty("code").GetString());
        Assert.Equal("previous_response_id", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(id, error.GetProperty("message").GetString());
        Assert.Empty(_upstream.Since(mark)); // decided by the bridge, nothing went upstream
    }
}
