using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class ConversationGrainTests(GrainClusterFixture fixture)
{
    private static string NewKey() => ConversationKey.Create("grain-tests", "thread", Guid.NewGuid().ToString("N"));

    private RequestRecord Upstream(string responseId) => fixture.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    [Fact]
    public async Task Turns_stream_upstream_events_continue_as_deltas_and_register_their_aliases()
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        var history = new List<JsonNode> { Items.Message("developer", "sys"), Items.Message("user", "q1") };
        var first = await Turns.RunAsync(grain, Items.Body(history));
        Assert.Equal("response.created", first[0].Type);
        Assert.Equal("response.completed", first[^1].Type);
        Assert.All(first, e => Assert.Null(e.Rejection));
        // The completed event carries what the grain read from it, so a gateway need not parse the response again.
        var read = CodexLb.Protocol.Events.EventReader.Summarize(first[^1].Data);
        Assert.Equal(new TurnCompletion(read.ResponseId!, read.InputTokens, read.CachedTokens, read.OutputTokens), first[^1].Completion);
        Assert.True(read.InputTokens > 0);
        Assert.All(first.SkipLast(1), e => Assert.Null(e.Completion));

        history.AddRange(first.Outputs());
        history.Add(Items.Message("user", "q2"));
        var second = await Turns.RunAsync(grain, Items.Body(history));
        Assert.True(Upstream(second.ResponseId()).IsDelta);

        var stats = await grain.GetStats();
        Assert.Equal((2, 1, 1, 1), (stats.Turns, stats.FullSends, stats.DeltaSends, stats.UpstreamConnects));
        Assert.Equal(second.ResponseId(), stats.LastResponseId);
        Assert.Equal(history.Count + second.Outputs().Count(), stats.ContextItems);
        var index = fixture.Grains.GetGrain<IResponseIndexGrain>(0);
        foreach (var id in new[] { first.ResponseId(), second.ResponseId() })
            Assert.Equal(new ResponseLocation(ResponseStatus.Found, key), await index.Locate("grain-tests", id));
        Assert.Equal(ResponseStatus.Unknown, (await index.Locate("other-tenant", first.ResponseId())).Status);
    }

    [Fact]
    public async Task A_gateway_of_the_build_before_still_runs_and_follows_turns_with_the_calls_that_took_a_token()
    {
        // During a rolling deploy an old gateway calls RunTurn and NextEvents with its client's token: a new silo answers
        // them as it answers the new calls, and a conversation continues across the two.
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var history = new List<JsonNode> { Items.Message("user", "q1") };
        var request = Turns.Request(Items.Body(history));
        using var client = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var events = new List<TurnEvent>();
        var answer = await grain.RunTurn(request, client.Token);
        while (true)
        {
            events.AddRange(answer.Events.Where(e => !e.IsHeartbeat));
            if (answer.Ended || events[^1].Type == "response.completed") break;
            answer = await grain.NextEvents(request.TurnId, events.Count, client.Token);
        }
        Assert.Equal(("response.created", "response.completed"), (events[0].Type, events[^1].Type));

        history.AddRange(events.Outputs());
        history.Add(Items.Message("user", "q2"));
        var next = await Turns.RunAsync(grain, Items.Body(history)); // a new gateway's calls, no token
        Assert.Equal("response.completed", next[^1].Type);
        Assert.True(Upstream(next.ResponseId()).IsDelta);
    }

    [Fact]
    public async Task A_full_send_with_store_false_leaves_out_reasoning_that_carries_no_encrypted_content()
    {
        // An SDK that did not ask for encrypted reasoning echoes its reasoning as an id alone: with store:false upstream the
        // provider could not resolve it, so a full send carries only what it can take back.
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        JsonNode idOnly = new JsonObject { ["type"] = "reasoning", ["id"] = "rs_client_only", ["summary"] = new JsonArray() };
        JsonNode replayable = new JsonObject { ["type"] = "reasoning", ["id"] = "rs_replayable", ["summary"] = new JsonArray(), ["encrypted_content"] = "gAAAA-opaque" };
        var stored = Items.Body([Items.Message("user", "q1"), idOnly, replayable, Items.Message("user", "q2")]);
        var sent = await Turns.RunAsync(grain, stored);
        Assert.Equal(3, Upstream(sent.ResponseId()).InputItemCount); // q1, the replayable reasoning, q2

        var kept = Items.Body([Items.Message("user", "q1"), idOnly, Items.Message("user", "q2")]);
        kept["store"] = true; // the provider stores: it can resolve the id, so nothing is left out
        var whole = await Turns.RunAsync(fixture.Grains.GetGrain<IConversationGrain>(NewKey()), kept);
        Assert.Equal(3, Upstream(whole.ResponseId()).InputItemCount);
    }

    [Fact]
    public async Task An_idle_socket_closes_after_its_ttl_and_the_next_turn_resends_the_context_once()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "q1")]));
        var ended = System.Diagnostics.Stopwatch.StartNew();
        var firstConnection = Upstream(first.ResponseId()).ConnectionId;

        await WaitUntilAsync(async () => !(await grain.GetStats()).SocketOpen, TimeSpan.FromSeconds(15));
        // The conversation's one housekeeping timer is armed for the socket's idle timeout (2 s here), not only for its idle
        // release (10 s, the default): the socket goes when it is idle, not when the conversation next lets its cache go.
        Assert.True(ended.Elapsed < new StateOptions().IdleRelease - TimeSpan.FromSeconds(2),
            $"the socket closed {ended.Elapsed.TotalSeconds:N1} s after the turn: with the idle release, not at its own 2 s timeout");
        // The simulator records the close when the close frame arrives, a moment after the grain dropped the socket.
        var ledger = await fixture.Simulator.Ledger.WaitUntilAsync(l => l.Connections.Single(c => c.Id == firstConnection).EndedBy != ConnectionEnd.Open,
            TimeSpan.FromSeconds(15));
        Assert.Equal(ConnectionEnd.ClientClosed, ledger.Connections.Single(c => c.Id == firstConnection).EndedBy);

        var second = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "q2")], previousResponseId: first.ResponseId()));
        var resend = Upstream(second.ResponseId());
        Assert.NotEqual(firstConnection, resend.ConnectionId);
        Assert.False(resend.IsDelta);
        Assert.Equal(3, resend.InputItemCount); // q1, its answer, q2: the grain rebuilt the context itself
        var third = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "q3")], previousResponseId: second.ResponseId()));
        Assert.True(Upstream(third.ResponseId()).IsDelta);

        // The idle check stops with the socket it watched and starts again with the next one: this one closes too.
        await WaitUntilAsync(async () => !(await grain.GetStats()).SocketOpen, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Sockets_rotate_before_their_maximum_age()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var ids = new List<string>();
        string? previous = null;
        var until = DateTime.UtcNow.AddSeconds(6);
        while (DateTime.UtcNow < until)
        {
            var events = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "tick")], previousResponseId: previous));
            previous = events.ResponseId();
            ids.Add(previous);
            await Task.Delay(500);
        }
        var records = ids.Select(Upstream).ToList();
        var connections = records.Select(r => r.ConnectionId).Distinct().ToList();
        Assert.True(connections.Count >= 2, "no rotation after 6 s with a 4 s maximum socket age");
        // After each rotation the first request carries the whole context, then deltas resume.
        foreach (var group in records.GroupBy(r => r.ConnectionId))
        {
            Assert.False(group.First().IsDelta);
            Assert.All(group.Skip(1), r => Assert.True(r.IsDelta));
        }
    }

    [Fact]
    public async Task Turns_beyond_the_queue_limit_are_rejected_with_429_and_queued_ones_run_in_order()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var marker = "hang-" + Guid.NewGuid().ToString("N");
        fixture.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(2), TimeSpan.Zero).WhenTextContains(marker));

        var running = Turns.RunAsync(grain, Items.Body([Items.Message("user", marker)]));
        await Task.Delay(300);
        var queued = new[] { Turns.RunAsync(grain, Items.Body([Items.Message("user", "queued 1")])), Turns.RunAsync(grain, Items.Body([Items.Message("user", "queued 2")])) };
        await Task.Delay(300);
        var rejected = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "one too many")]));

        var rejection = Assert.Single(rejected).Rejection;
        Assert.NotNull(rejection);
        Assert.Equal((429, "bridge_queue_full"), (rejection.Status, rejection.Code));
        Assert.NotNull(rejection.RetryAfterSeconds);
        Assert.Equal("response.completed", (await running)[^1].Type);
        foreach (var turn in queued) Assert.Equal("response.completed", (await turn)[^1].Type);
    }

    [Fact]
    public async Task A_silent_provider_is_covered_by_heartbeats_that_precede_the_first_event()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var marker = "quiet-" + Guid.NewGuid().ToString("N");
        fixture.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(2500), TimeSpan.Zero).WhenTextContains(marker));
        var events = await Turns.RunAsync(grain, Items.Body([Items.Message("user", marker)]));
        var firstReal = events.FindIndex(e => !e.IsHeartbeat);
        Assert.True(firstReal >= 2, $"expected at least 2 heartbeats during 2.5 s of silence, saw {firstReal}");
        Assert.Equal("response.created", events[firstReal].Type);
        Assert.Equal("response.completed", events[^1].Type);
    }

    [Fact]
    public async Task A_turn_past_the_context_bound_is_400_context_length_exceeded_and_nothing_is_sent_or_stored()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "small")]));
        var before = fixture.Simulator.Ledger.Requests.Count;

        var huge = new string('x', (int)GrainClusterFixture.ContextBound);
        var rejected = await Turns.RunAsync(grain, Items.Body([Items.Message("user", huge)], previousResponseId: first.ResponseId()));
        var rejection = Assert.Single(rejected).Rejection!;
        Assert.Equal((400, "context_length_exceeded"), (rejection.Status, rejection.Code));
        Assert.Equal(before, fixture.Simulator.Ledger.Requests.Count);
        Assert.Equal(2, (await grain.GetStats()).ContextItems);

        // The conversation is intact: the client compacts or sends less, and continues from the same anchor.
        var next = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "smaller")], previousResponseId: first.ResponseId()));
        Assert.Equal("response.completed", next[^1].Type);
    }

    [Fact]
    public async Task After_a_compaction_a_rebuild_sends_the_compacted_context()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body([Items.Message("developer", "sys " + new string('s', 4000)), Items.Message("user", "q1")]));
        var tag = Guid.NewGuid().ToString("N")[..8];
        var compacted = await Turns.RunAsync(grain, Items.Body([Items.Message("user", $"[sim:close-between-turns#{tag}] compaction_trigger")], previousResponseId: first.ResponseId()));
        Assert.Contains(compacted.Outputs(), o => (string?)o["type"] == "compaction");
        Assert.Equal(1, (await grain.GetStats()).ContextItems);

        // The provider dropped the socket after the compaction turn: the rebuild is the compaction item plus the new item.
        var after = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "after")], previousResponseId: compacted.ResponseId()));
        var upstream = Upstream(after.ResponseId());
        Assert.False(upstream.IsDelta);
        Assert.Equal(2, upstream.InputItemCount);
        Assert.True(upstream.ContextTokens < Upstream(compacted.ResponseId()).ContextTokens);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in " + timeout);
            await Task.Delay(100);
        }
    }
}
