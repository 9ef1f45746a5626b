using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Recovery;

/// <summary>
/// The regression of the seed (codex-lb PR #397): recovery paths answered 400 previous_response_not_found when the
/// proxy itself had lost the upstream socket, so the client dropped its anchor and resent the whole history.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class SeedRegressionTests(ProductFixture product, ITestOutputHelper output) : IDisposable
{
    private readonly UpstreamLedger _upstream = new(product.Simulator);

    private FaultPlan Faults => product.Simulator.Faults;

    public void Dispose() => Faults.Clear();

    private static JsonNode Developer() => Items.Message("developer", "You are a coding agent. " + new string('s', 2000));

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Closed_session_with_anchor_is_never_400(ClientStyle style)
    {
        var conversation = new ClientConversation(product.Http, style);
        var close1 = Rx.Marker("close-1");
        Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(close1));
        var first = await conversation.TurnAsync(Developer(), Rx.User("first " + close1));
        await _upstream.WaitClosedAsync(_upstream.Of(first.ResponseId!).ConnectionId!.Value);

        // 1. The session closed; the anchored next turn reconnects (full context once) and completes.
        var close2 = Rx.Marker("close-2");
        Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(close2));
        var mark = _upstream.Mark();
        var second = await conversation.SendAsync(conversation.Next(Rx.User("second " + close2)));
        output.WriteLine("closed session, next turn: " + Rx.Describe(second));
        Rx.AssertNever400(second);
        Rx.AssertNormalCompleted(second);
        var reconnect = Assert.Single(_upstream.Since(mark));
        Assert.False(reconnect.IsDelta);
        Assert.Null(reconnect.PreviousResponseId);
        await _upstream.WaitClosedAsync(reconnect.ConnectionId!.Value);

        // 2. Closed again, and the reconnect is refused: 502 upstream_unavailable with Retry-After, never 400.
        Faults.Add(Fault.RefuseHandshake(503));
        var body = conversation.Next(Rx.User("third"));
        var refused = await conversation.SendAsync(body);
        output.WriteLine("closed session, handshake refused: " + Rx.Describe(refused));
        Rx.AssertNever400(refused);
        Rx.AssertNotPreviousResponseNotFound(refused);
        Assert.Equal(HttpStatusCode.BadGateway, refused.Status);
        Assert.Equal("upstream_unavailable", Rx.ErrorCodeOf(refused));
        Assert.NotNull(refused.Headers.RetryAfter);

        // 3. The next attempt's socket is accepted and dropped at once: replayed inside the bridge, never 400.
        Faults.Add(Fault.FailHandshake());
        var retried = await conversation.SendAsync(body);
        output.WriteLine("closed session, handshake dropped: " + Rx.Describe(retried));
        Rx.AssertNever400(retried);
        Rx.AssertNormalCompleted(retried);

        // 4. And the conversation goes on as deltas.
        mark = _upstream.Mark();
        await conversation.TurnAsync(Rx.User("fourth"));
        var next = Assert.Single(_upstream.Since(mark));
        Assert.True(next.IsDelta);
        Assert.Equal(retried.ResponseId, next.PreviousResponseId);
    }

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Mid_request_failure_with_anchor_is_retryable(ClientStyle style)
    {
        var conversation = new ClientConversation(product.Http, style);
        await conversation.TurnAsync(Developer(), Rx.User("first"));

        (string Name, bool Stream, Func<string, Fault> Fault, int Status, string Code)[] failures =
        [
            ("lost before response.created, replay lost too", true, m => Fault.CloseBefore(0).WhenTextContains(m).Times(2), 502, "upstream_unavailable"),
            ("lost mid-stream (SSE)", true, m => Fault.CloseAfter(2).WhenTextContains(m), 200, "stream_incomplete"),
            ("lost mid-stream (stream:false)", false, m => Fault.CloseAfter(2).WhenTextContains(m), 502, "stream_incomplete"),
            ("lost right after response.created", true, m => Fault.CloseAfter(0).WhenTextContains(m), 200, "stream_incomplete"),
            ("provider error frame 500", true, m => Fault.Error(500).WhenTextContains(m), 502, "server_error"),
            ("provider response.failed server_error", true, m => Fault.Failed().WhenTextContains(m), 200, "server_error"),
        ];

        foreach (var (name, stream, fault, status, code) in failures)
        {
            var marker = Rx.Marker("mid-request");
            Faults.Add(fault(marker));
            var anchor = conversation.LastResponseId;
            var body = conversation.Next(stream, Rx.User($"{name} {marker}"));
            var failed = await conversation.SendAsync(body);
            output.WriteLine($"{name}: {Rx.Describe(failed)}");
            Rx.AssertNever400(failed);
            Rx.AssertNotPreviousResponseNotFound(failed);
            Assert.True((int)failed.Status == status, $"{name}: expected {status}, got {Rx.Describe(failed)}");
            Assert.True(Rx.ErrorCodeOf(failed) == code, $"{name}: expected code {code}, got {Rx.Describe(failed)}");
            Assert.True(Rx.IsRetryable(failed), $"{name}: not retryable: {Rx.Describe(failed)}");
            if (failed.Status != HttpStatusCode.OK) Assert.True(failed.Headers.RetryAfter is not null, $"{name}: a retryable 5xx without Retry-After");
            Assert.Equal(anchor, conversation.LastResponseId); // the failed turn did not move the conversation

            var retried = await conversation.SendAsync(body);
            output.WriteLine($"{name}, retried: {Rx.Describe(retried)}");
            Rx.AssertNormalCompleted(retried);
        }

        Rx.AssertNormalCompleted(await conversation.SendAsync(conversation.Next(Rx.User("after all of it"))));
    }

    /// <param name="CloseFirst">A close injected after the first turn (the socket is gone when the faulted turn starts).</param>
    private sealed record Scenario(string Name, Fault? CloseFirst, Func<string, Fault[]> Faults);

    private static readonly Fault Close = Fault.CloseBetweenTurns();
    private static readonly Fault GracefulClose = Fault.CloseBetweenTurns() with { Graceful = true };

    private static readonly Scenario[] FaultKinds =
    [
        new("socket closed between turns", Close, _ => []),
        new("socket closed between turns (close frame)", GracefulClose, _ => []),
        new("lost before response.created", null, m => [Fault.CloseBefore(0).WhenTextContains(m)]),
        new("lost before response.created (close frame)", null, m => [(Fault.CloseBefore(0) with { Graceful = true }).WhenTextContains(m)]),
        new("lost before response.created, replay lost too", null, m => [Fault.CloseBefore(0).WhenTextContains(m).Times(2)]),
        new("lost right after response.created", null, m => [Fault.CloseAfter(0).WhenTextContains(m)]),
        new("lost mid-stream", null, m => [Fault.CloseAfter(2).WhenTextContains(m)]),
        new("lost mid-stream (close frame)", null, m => [(Fault.CloseAfter(2) with { Graceful = true }).WhenTextContains(m)]),
        new("upstream previous_response_not_found", null, m => [Fault.Error(400, "previous_response_not_found").WhenTextContains(m)]),
        new("upstream previous_response_not_found, then resend lost", null, m =>
            [Fault.Error(400, "previous_response_not_found").WhenTextContains(m), Fault.CloseBefore(0).WhenTextContains(m)]),
        new("closed, handshake refused 503", Close, _ => [Fault.RefuseHandshake(503)]),
        new("closed, handshake refused 500", Close, _ => [Fault.RefuseHandshake(500)]),
        new("closed, handshake 429", Close, _ => [Fault.RefuseHandshake(429, TimeSpan.FromSeconds(1))]),
        new("closed, handshake accepted then dropped", Close, _ => [Fault.FailHandshake()]),
        new("error frame 500", null, m => [Fault.Error(500).WhenTextContains(m)]),
        new("error frame 429", null, m => [Fault.Error(429, "rate_limit_exceeded").WhenTextContains(m)]),
        new("response.failed server_error", null, m => [Fault.Failed().WhenTextContains(m)]),
    ];

    [Theory]
    [InlineData(ClientStyle.PreviousResponseId)]
    [InlineData(ClientStyle.FullHistory)]
    public async Task Retry_path_never_answers_previous_response_not_found(ClientStyle style)
    {
        var violations = new List<string>();
        output.WriteLine($"{"fault",-52} | answers the client saw (in order) | next turn");
        foreach (var scenario in FaultKinds)
        {
            Faults.Clear();
            var conversation = new ClientConversation(product.Http, style);
            var close = Rx.Marker("close");
            if (scenario.CloseFirst is { } closeFault) Faults.Add(closeFault.WhenTextContains(close));
            var first = await conversation.SendAsync(conversation.Next(Developer(), Rx.User("first " + close)));
            if (!Rx.IsCompleted(first)) { violations.Add($"{scenario.Name}: first turn failed: {Rx.Describe(first)}"); continue; }
            if (scenario.CloseFirst is not null) await _upstream.WaitClosedAsync(_upstream.Of(first.ResponseId!).ConnectionId!.Value);

            var marker = Rx.Marker("fault");
            foreach (var fault in scenario.Faults(marker)) Faults.Add(fault);
            var attempts = await conversation.SendWithRetriesAsync(conversation.Next(Rx.User("second " + marker)));
            var after = await conversation.SendAsync(conversation.Next(Rx.User("third")));

            var seen = string.Join(" → ", attempts.Select(a => $"{(int)a.Status}{(Rx.ErrorCodeOf(a) is { } c ? " " + c : "")}"));
            output.WriteLine($"{scenario.Name,-52} | {seen} | {(int)after.Status} {after.Terminal?.Type ?? Rx.ErrorCodeOf(after)}");
            foreach (var answer in attempts.Append(after))
            {
                if (Rx.ErrorCodeOf(answer) == Rx.PreviousResponseNotFound || answer.RawBody.Contains(Rx.PreviousResponseNotFound, StringComparison.Ordinal))
                    violations.Add($"{scenario.Name}: previous_response_not_found reached the client: {Rx.Describe(answer)}");
                if (answer.Status == HttpStatusCode.BadRequest)
                    violations.Add($"{scenario.Name}: 400 on a transient failure: {Rx.Describe(answer)}");
            }
            if (!Rx.IsCompleted(attempts[^1])) violations.Add($"{scenario.Name}: the turn never completed after {attempts.Count} attempts: {Rx.Describe(attempts[^1])}");
            if (!Rx.IsCompleted(after)) violations.Add($"{scenario.Name}: the turn after recovery failed: {Rx.Describe(after)}");
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
