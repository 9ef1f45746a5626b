using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Conversation;
using CodexLb.Grains.Upstream;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Runtime;

namespace CodexLb.Tests.Grains;

/// <summary>
/// A turn runs once on its owner, whoever asks for it again: a gateway re-dispatching after a stall, a client retrying
/// after its gateway died. A client that goes away stops it; a deactivating grain finishes it and leaves no socket behind.
/// </summary>
[Collection(GrainClusterCollection.Name)]
public sealed class TurnLifecycleGrainTests(GrainClusterFixture fixture)
{
    private static string NewKey() => ConversationKey.Create("lifecycle-tests", "session", Guid.NewGuid().ToString("N"));

    /// <summary>A marker whose provider stream takes about two seconds (events 100 ms apart), once.</summary>
    private string SlowMarker()
    {
        var marker = "slow-" + Guid.NewGuid().ToString("N")[..10];
        fixture.Simulator.Faults.Add(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(100)).WhenTextContains(marker).Times(1));
        return marker;
    }

    /// <summary>A turn whose provider stream takes about two seconds (events 100 ms apart).</summary>
    private (TurnRequest Request, string Marker) SlowTurn(string? previousResponseId = null)
    {
        var marker = SlowMarker();
        var request = Turns.Request(Items.Body([Items.Message("user", marker)], previousResponseId: previousResponseId)) with { TurnId = "turn-" + marker };
        return (request, marker);
    }

    private static async Task<List<TurnEvent>> ReadAsync(IAsyncEnumerator<TurnEvent> events, int count)
    {
        var read = new List<TurnEvent>();
        while (read.Count < count && await events.MoveNextAsync())
            if (!events.Current.IsHeartbeat) read.Add(events.Current);
        return read;
    }

    private static async Task<List<TurnEvent>> ReadAllAsync(IAsyncEnumerable<TurnEvent> events)
    {
        var read = new List<TurnEvent>();
        await foreach (var e in events) if (!e.IsHeartbeat) read.Add(e);
        return read;
    }

    private static string? ResponseIdOf(TurnEvent e) =>
        JsonDocument.Parse(e.Data).RootElement.TryGetProperty("response", out var r) ? r.GetProperty("id").GetString() : null;

    private static int Sequence(TurnEvent e) => JsonDocument.Parse(e.Data).RootElement.GetProperty("sequence_number").GetInt32();

    /// <summary>Upstream requests of this test's turns: found by the response ids their events carry.</summary>
    private int UpstreamRequestsFor(string responseId) => fixture.Simulator.Ledger.Requests.Count(r => r.ResponseId == responseId);

    private static void AssertWholeStream(IReadOnlyList<TurnEvent> events)
    {
        Assert.Equal("response.created", events[0].Type);
        Assert.Equal("response.completed", events[^1].Type);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(Sequence));
    }

    [Fact]
    public async Task A_redispatch_with_the_same_turn_id_continues_where_the_caller_left_off_without_a_second_generation()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, marker) = SlowTurn();
        var before = fixture.Simulator.Ledger.Requests.Count;
        var first = grain.Follow(request).GetAsyncEnumerator();
        var seen = await ReadAsync(first, 3);

        // The gateway heard nothing for a while and re-dispatched: same turn id, three events already relayed.
        var rest = await ReadAllAsync(grain.Follow(request with { ReplayFrom = 3, AttachOnly = true }));
        AssertWholeStream([.. seen, .. rest]);
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
        await first.DisposeAsync();
    }

    [Fact]
    public async Task A_turn_sent_while_its_base_still_ran_is_the_same_turn_when_re_dispatched_or_retried_after_the_base_completed()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (first, _) = SlowTurn();
        var running = grain.Follow(first).GetAsyncEnumerator();
        var baseId = ResponseIdOf((await ReadAsync(running, 1))[0])!;

        // The client continues from the response as soon as it was created: its turn waits behind it (the base is pending).
        var next = Turns.Request(Items.Body([Items.Message("user", "and then? " + Guid.NewGuid().ToString("N")[..8])], previousResponseId: baseId))
            with { TurnId = "next-" + Guid.NewGuid().ToString("N")[..8] };
        var sentAt = DateTimeOffset.UtcNow;
        var waiting = await grain.RunTurn(next);
        Assert.DoesNotContain(waiting.Events, e => !e.IsHeartbeat); // queued behind the running base
        await ReadAsync(running, int.MaxValue); // the base to its end

        // Its gateway re-dispatches it (the owner was quiet too long), and its client retries it through another gateway,
        // both once the base completed: the same turn each time, generated once.
        var redispatched = await ReadAllAsync(grain.Follow(next with { Redispatched = true }));
        var retried = await ReadAllAsync(grain.Follow(next with { TurnId = "retry-" + next.TurnId }));
        Assert.Equal("response.completed", redispatched[^1].Type);
        Assert.Equal(ResponseIdOf(redispatched[^1]), ResponseIdOf(retried[^1]));
        var generated = fixture.Simulator.Ledger.Requests.Where(r => r.Generate && r.StartedAt >= sentAt).ToList();
        Assert.True(generated.Count == 1, $"generated {generated.Count} times: {LedgerText.Lines(generated, "; ")}");
    }

    [Fact]
    public async Task A_redispatch_after_an_abandoned_call_read_the_whole_answer_still_attaches_and_never_runs_the_turn_again()
    {
        // The gateway gave up on its first call during a stall, but that call's follower still read the turn to the end
        // on the owner. The gateway's re-dispatch (same id) must get the rest from where it was, not a second generation.
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, _) = SlowTurn();
        var before = fixture.Simulator.Ledger.Requests.Count;
        var abandoned = await ReadAllAsync(grain.Follow(request));
        Assert.Equal("response.completed", abandoned[^1].Type);

        var redispatched = await ReadAllAsync(grain.Follow(request with { ReplayFrom = 2, AttachOnly = true }));
        Assert.Equal(abandoned.Skip(2).Select(e => e.Type), redispatched.Select(e => e.Type));
        Assert.Equal(ResponseIdOf(abandoned[^1]), ResponseIdOf(redispatched[^1]));
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
    }

    [Fact]
    public async Task A_clients_retry_of_a_running_turn_replays_it_from_the_start_and_the_provider_generates_once()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, _) = SlowTurn();
        var before = fixture.Simulator.Ledger.Requests.Count;
        var original = grain.Follow(request).GetAsyncEnumerator();
        var seen = await ReadAsync(original, 2);

        // Its gateway died; the client sends the same request again through another one: a new turn id, same content.
        var retried = await ReadAllAsync(grain.Follow(request with { TurnId = "retry-" + Guid.NewGuid() }));
        AssertWholeStream(retried);
        Assert.Equal(ResponseIdOf(seen[0]), ResponseIdOf(retried[0]));
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
        Assert.Equal(1, UpstreamRequestsFor(ResponseIdOf(retried[0])!));
        await original.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_retry_sent_in_another_shape_attaches_to_the_running_turn_and_the_provider_generates_once(bool anchoredOriginal)
    {
        // The Codex CLI over websockets sends a turn anchored (previous_response_id + the new items); when its connection
        // dies it retries on a new one with its full history and no anchor, client_metadata in another order. The other
        // way round (a full-history original, an anchored retry) is the same question too.
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var system = Items.Message("developer", "sys");
        var q1 = Items.Message("user", "q1");
        var first = await Turns.RunAsync(grain, Items.Body([system, q1]));
        var marker = SlowMarker();
        var q2 = Items.Message("user", marker);
        var anchored = Items.Body([q2], previousResponseId: first.ResponseId()).WithClientMetadata("thread-" + marker, "turn-" + marker);
        var fullHistory = Items.Body([system, q1, .. first.Outputs(), q2]).WithClientMetadata("thread-" + marker, "turn-" + marker, attempt: 1);
        var before = fixture.Simulator.Ledger.Requests.Count;
        var original = grain.Follow(Turns.Request(anchoredOriginal ? anchored : fullHistory) with { TurnId = "original-" + marker }).GetAsyncEnumerator();
        var seen = await ReadAsync(original, 2);

        var retried = await ReadAllAsync(grain.Follow(Turns.Request(anchoredOriginal ? fullHistory : anchored) with { TurnId = "retry-" + marker }));
        AssertWholeStream(retried);
        Assert.Equal(ResponseIdOf(seen[0]), ResponseIdOf(retried[0]));
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
        await original.DisposeAsync();
    }

    [Fact]
    public async Task A_request_with_the_same_context_but_other_settings_is_another_turn()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var marker = SlowMarker();
        var body = Items.Body([Items.Message("user", marker)]);
        var before = fixture.Simulator.Ledger.Requests.Count;
        var original = grain.Follow(Turns.Request(body) with { TurnId = "original-" + marker }).GetAsyncEnumerator();
        var seen = await ReadAsync(original, 1);

        body["reasoning"] = new JsonObject { ["effort"] = "high" };
        var other = await ReadAllAsync(grain.Follow(Turns.Request(body) with { TurnId = "other-" + marker }));
        Assert.Equal("response.completed", other[^1].Type);
        Assert.NotEqual(ResponseIdOf(seen[0]), ResponseIdOf(other[0]));
        Assert.Equal(2, fixture.Simulator.Ledger.Requests.Count - before);
        await original.DisposeAsync();
    }

    [Fact]
    public async Task An_answer_nobody_received_is_replayed_to_the_retry_and_a_delivered_one_only_within_the_grace()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, _) = SlowTurn();
        var before = fixture.Simulator.Ledger.Requests.Count;
        var orphan = grain.Follow(request).GetAsyncEnumerator();
        var created = (await ReadAsync(orphan, 1))[0];
        await orphan.DisposeAsync(); // the gateway died: no cancel, nobody reads on
        await fixture.Simulator.Ledger.WaitUntilAsync(l => l.Requests.Any(r => r.ResponseId == ResponseIdOf(created) && r.Outcome == RequestOutcome.Completed),
            TimeSpan.FromSeconds(20));

        var replayed = await ReadAllAsync(grain.Follow(request with { TurnId = "retry-" + Guid.NewGuid() }));
        AssertWholeStream(replayed);
        Assert.Equal(ResponseIdOf(created), ResponseIdOf(replayed[0]));
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);

        // Delivered now, but the owner cannot know the gateway that read it wrote it (killed in between, its client retries
        // at once): asked again at once, it is replayed; once the grace is over it is a new question with a new answer.
        var soon = await ReadAllAsync(grain.Follow(request with { TurnId = "soon-" + Guid.NewGuid() }));
        Assert.Equal(ResponseIdOf(created), ResponseIdOf(soon[0]));
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
        await Task.Delay(ConversationGrain.DeliveredRetryGrace + TimeSpan.FromSeconds(1));
        var again = await ReadAllAsync(grain.Follow(request with { TurnId = "again-" + Guid.NewGuid() }));
        Assert.Equal("response.completed", again[^1].Type);
        Assert.NotEqual(ResponseIdOf(created), ResponseIdOf(again[0]));
        Assert.Equal(2, fixture.Simulator.Ledger.Requests.Count - before);
    }

    [Fact]
    public async Task A_turn_that_continues_the_last_answer_releases_it_and_only_a_late_redispatch_of_that_answer_is_refused_retryably()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, _) = SlowTurn();
        var answered = await ReadAllAsync(grain.Follow(request));
        Assert.Equal("response.completed", answered[^1].Type);

        // Still attachable while nothing shows that its client has the answer.
        var early = await ReadAllAsync(grain.Follow(request with { ReplayFrom = answered.Count - 1, AttachOnly = true }));
        Assert.Equal("response.completed", Assert.Single(early).Type);

        // The client chains on the answer: it has it, so the owner lets the turn's events go.
        var before = fixture.Simulator.Ledger.Requests.Count;
        var next = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "and then?")], previousResponseId: ResponseIdOf(answered[^1])));
        Assert.Equal("response.completed", next[^1].Type);
        var late = Assert.Single(await ReadAllAsync(grain.Follow(request with { ReplayFrom = 3, AttachOnly = true }))).Rejection!;
        Assert.Equal(503, late.Status); // retryable, never a replay of something else and never a second generation
        Assert.Equal(1, fixture.Simulator.Ledger.Requests.Count - before);
    }

    [Fact]
    public async Task An_answer_another_follower_still_reads_is_kept_until_it_has_read_it_all()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (request, _) = SlowTurn();
        var slowReader = grain.Follow(request).GetAsyncEnumerator();
        var seen = await ReadAsync(slowReader, 2);

        // A retry through another gateway reads the whole answer, and its client chains on it at once.
        var retried = await ReadAllAsync(grain.Follow(request with { TurnId = "retry-" + Guid.NewGuid() }));
        Assert.Equal("response.completed", retried[^1].Type);
        var next = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "next")], previousResponseId: ResponseIdOf(retried[^1])));
        Assert.Equal("response.completed", next[^1].Type);

        // The first follower still gets every event of its turn.
        var rest = new List<TurnEvent>();
        while (await slowReader.MoveNextAsync()) if (!slowReader.Current.IsHeartbeat) rest.Add(slowReader.Current);
        AssertWholeStream([.. seen, .. rest]);
        await slowReader.DisposeAsync();
    }

    [Fact]
    public async Task A_client_that_goes_away_stops_the_provider_within_a_second_and_the_next_turn_starts_at_once()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "before")]));
        var (request, _) = SlowTurn(first.ResponseId());
        var running = grain.Follow(request).GetAsyncEnumerator();
        var created = (await ReadAsync(running, 2))[0];

        var clock = Stopwatch.StartNew();
        await grain.CancelTurn(request.TurnId);
        var ledger = await fixture.Simulator.Ledger.WaitUntilAsync(
            l => l.Requests.Any(r => r.ResponseId == ResponseIdOf(created) && r.Outcome != RequestOutcome.InFlight), TimeSpan.FromSeconds(10));
        var stopped = clock.Elapsed;
        var record = ledger.Requests.Single(r => r.ResponseId == ResponseIdOf(created));
        Assert.Equal(RequestOutcome.Aborted, record.Outcome);
        Assert.True(stopped < TimeSpan.FromSeconds(1), $"the provider stopped {stopped.TotalMilliseconds:F0} ms after the cancel");
        // Nothing more of the turn for its follower (its gateway only asks again if the client were still there): the owner
        // no longer knows the turn by that id.
        var after = await ReadAsync(running, 100);
        Assert.All(after, e => Assert.Equal(503, e.Rejection?.Status));
        await running.DisposeAsync();

        // The next turn does not wait behind the abandoned one; the abandoned response is no anchor.
        clock.Restart();
        var next = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "after the interrupt")], previousResponseId: first.ResponseId()));
        Assert.Equal("response.completed", next[^1].Type);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the next turn took {clock.Elapsed.TotalMilliseconds:F0} ms");
        var sent = fixture.Simulator.Ledger.Requests.Single(r => r.ResponseId == next.ResponseId());
        Assert.Null(sent.PreviousResponseId); // closing the socket was the only way to stop the provider: one full resend
        var stolen = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "x")], previousResponseId: ResponseIdOf(created)));
        // Nothing of the abandoned turn was written: it started and never completed, which its id says (retryably, never a 400).
        var refused = Assert.Single(stolen).Rejection!;
        Assert.Equal((409, "previous_response_incomplete"), (refused.Status, refused.Code));
    }

    [Fact]
    public async Task A_turn_cancelled_while_it_waits_in_the_queue_never_reaches_the_provider()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var (running, _) = SlowTurn();
        var first = grain.Follow(running).GetAsyncEnumerator();
        await ReadAsync(first, 1);
        var queuedMarker = "queued-" + Guid.NewGuid().ToString("N")[..8];
        var queued = Turns.Request(Items.Body([Items.Message("user", queuedMarker)])) with { TurnId = "queued-" + Guid.NewGuid() };
        var waiting = ReadAllAsync(grain.Follow(queued));
        await Task.Delay(200);
        var before = fixture.Simulator.Ledger.Requests.Count;
        await grain.CancelTurn(queued.TurnId);
        // Its follower gets no event of it: the call in flight ends empty, or (a loaded machine let a heartbeat return
        // first and the next ask came after the cancel) the owner no longer knows the turn: a retryable rejection.
        var seen = (await waiting).Where(e => !e.IsHeartbeat).ToList();
        Assert.True(seen.Count == 0 || seen is [{ Rejection.Status: 503 }], string.Join(", ", seen.Select(e => e.Type)));
        var rest = new List<TurnEvent>();
        while (await first.MoveNextAsync()) if (!first.Current.IsHeartbeat) rest.Add(first.Current);
        Assert.Equal("response.completed", rest[^1].Type);
        Assert.Equal(before, fixture.Simulator.Ledger.Requests.Count); // the queued turn never went upstream
    }

    [Fact]
    public async Task Attaching_to_a_turn_the_owner_does_not_know_is_a_retryable_rejection()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var request = Turns.Request(Items.Body([Items.Message("user", "lost")])) with { TurnId = "unknown", AttachOnly = true, ReplayFrom = 5 };
        var before = fixture.Simulator.Ledger.Requests.Count;
        var rejection = Assert.Single(await ReadAllAsync(grain.Follow(request))).Rejection!;
        Assert.Equal(503, rejection.Status);
        Assert.NotNull(rejection.RetryAfterSeconds);
        Assert.Equal(before, fixture.Simulator.Ledger.Requests.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_deactivation_during_a_turn_or_its_connect_stops_the_provider_and_leaves_no_socket_open(bool duringConnect)
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        if (duringConnect) fixture.Simulator.Faults.Add(Fault.SlowHandshake(TimeSpan.FromSeconds(3)));
        var connectionsBefore = fixture.Simulator.Ledger.Connections.Select(c => c.Id).ToHashSet();
        var (request, _) = SlowTurn();
        var events = grain.Follow(request).GetAsyncEnumerator();
        var arrived = new System.Collections.Concurrent.ConcurrentQueue<TurnEvent>();
        var read = Task.Run(async () =>
        {
            // The deactivating owner cancels the turn: its follower gets what there was and the end, no terminal event
            // (or, asking a fresh activation, that the turn is lost); a gateway then ends its client's stream retryably.
            while (await events.MoveNextAsync()) if (!events.Current.IsHeartbeat) arrived.Enqueue(events.Current);
            return arrived.ToList();
        });
        // Deactivate at the point under test, not after a guessed delay (a loaded machine connects late): while the
        // provider holds the handshake, or once the response started streaming.
        for (var waited = 0; waited < 400; waited++)
        {
            var reached = duringConnect
                ? fixture.Simulator.Ledger.Connections.Any(c => !connectionsBefore.Contains(c.Id))
                : arrived.Any(e => e.Type == "response.created");
            if (reached) break;
            await Task.Delay(50);
        }
        await grain.AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        var seen = await read.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(seen, e => e.Type == "response.completed");
        // Every connection this turn opened (or was opening) to the provider ends, and the request was stopped.
        var ledger = await fixture.Simulator.Ledger.WaitUntilAsync(l =>
        {
            var mine = l.Connections.Where(c => !connectionsBefore.Contains(c.Id)).ToList();
            return mine.Count > 0 && mine.All(c => c.EndedBy != ConnectionEnd.Open);
        }, TimeSpan.FromSeconds(20));
        var created = seen.FirstOrDefault(e => e.Type == "response.created");
        if (!duringConnect)
        {
            Assert.NotNull(created);
            Assert.Equal(RequestOutcome.Aborted, ledger.Requests.Single(r => r.ResponseId == ResponseIdOf(created!)).Outcome);
        }
        else Assert.Null(created);
        await events.DisposeAsync().AsTask().ContinueWith(_ => { });

        // No closed socket keeps its slot in its silo's budget (what codexlb_upstream_open_sockets reports): once the idle
        // sockets of earlier tests closed too (idle timeout 2 s), every budget is empty.
        var budgets = fixture.Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<UpstreamSocketBudget>()).ToList();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (budgets.Sum(b => b.Count) > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(0, budgets.Sum(b => b.Count));
    }

    [Fact]
    public async Task A_trailing_frame_of_a_response_that_failed_mid_stream_never_reaches_the_next_turn()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await ReadAllAsync(grain.Follow(Turns.Request(Items.Body([Items.Message("user", "before")]))));
        var failing = "fails-" + Guid.NewGuid().ToString("N")[..10];
        // The provider ends the response with an error after four events and sends its event 4 300 ms later: by then the
        // next turn is streaming (events 100 ms apart), on the same socket if the owner kept it.
        fixture.Simulator.Faults.Add(Fault.ErrorMidStream(4, TimeSpan.FromMilliseconds(300)).WhenTextContains(failing));
        var failed = await ReadAllAsync(grain.Follow(Turns.Request(Items.Body([Items.Message("user", failing)], previousResponseId: first.ResponseId()))));
        Assert.Equal("response.failed", failed[^1].Type);

        var (request, _) = SlowTurn(first.ResponseId());
        var next = await ReadAllAsync(grain.Follow(request));
        AssertWholeStream(next);
        AssertOneResponse(next);
        Assert.Contains(fixture.Simulator.Ledger.Requests, r => r.Fault?.StartsWith("ErrorMidStream", StringComparison.Ordinal) == true && r.Outcome == RequestOutcome.Error);
    }

    [Fact]
    public async Task A_frame_of_another_response_before_response_created_never_becomes_the_turns_event()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var marker = "stray-" + Guid.NewGuid().ToString("N")[..10];
        fixture.Simulator.Faults.Add(Fault.StrayFrame().WhenTextContains(marker));
        var turn = await ReadAllAsync(grain.Follow(Turns.Request(Items.Body([Items.Message("user", marker)]))));
        AssertWholeStream(turn);
        AssertOneResponse(turn);
        Assert.Equal(1, UpstreamRequestsFor(ResponseIdOf(turn[0])!));

        // What the conversation holds is the turn's own answer: it continues from it.
        var next = await ReadAllAsync(grain.Follow(Turns.Request(Items.Body([Items.Message("user", "next")], previousResponseId: turn.ResponseId()))));
        Assert.Equal("response.completed", next[^1].Type);
    }

    [Fact]
    public async Task A_client_turns_generations_count_what_reached_the_provider_and_a_rerun_counts_its_lost_run()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var markers = Enumerable.Range(0, 4).Select(i => $"gen{i}-" + Guid.NewGuid().ToString("N")[..10]).ToArray();
        fixture.Simulator.Faults.Add(Fault.CloseBefore(0).WhenTextContains(markers[1])); // lost before response.created: sent again
        fixture.Simulator.Faults.Add(Fault.Error(400, "invalid_value").WhenTextContains(markers[3])); // refused: nothing generated
        for (var i = 0; i < markers.Length; i++)
        {
            var body = Items.Body([Items.Message("user", markers[i])]);
            body["metadata"] = new System.Text.Json.Nodes.JsonObject { ["sim_tag"] = markers[i] };
            // Turn 2 comes from a gateway that lost the turn's first owner: it runs afresh here.
            await ReadAllAsync(grain.Follow(Turns.Request(body) with { Redispatched = i == 2 }));
        }

        // What the provider was asked to generate: one, two (the lost request and its replay), one (the other one went to the
        // lost owner), one that it refused.
        var upstream = markers.Select(m => fixture.Simulator.Ledger.Requests.Count(r => r.Tag == m && r.Generate)).ToList();
        Assert.Equal([1, 2, 1, 1], upstream);
        var stats = await grain.GetStats();
        Assert.Equal([1, 2, 2, 0], stats.RecentTurns.Select(t => t.Generations));
        // Each record names the response its turn created (the grain keeps it inline and reads it back); the refused turn none.
        Assert.Equal(stats.LastResponseId, stats.RecentTurns[2].ResponseId);
        Assert.Equal(3, stats.RecentTurns.Take(3).Select(t => Assert.IsType<string>(t.ResponseId)).Distinct().Count());
        Assert.Null(stats.RecentTurns[3].ResponseId);
    }

    /// <summary>Every event that names a response names the one the turn created.</summary>
    private static void AssertOneResponse(IReadOnlyList<TurnEvent> events)
    {
        var id = ResponseIdOf(events[0]);
        Assert.NotNull(id);
        Assert.All(events, e => Assert.True(ResponseIdOf(e) is null || ResponseIdOf(e) == id, $"{e.Type} of another response: {ResponseIdOf(e)}"));
    }

    /// <summary>
    /// A rolling restart: the silo holding the conversation drains. A new turn is refused there before anything reaches the
    /// provider (started there, it could lose its owner mid-stream when the silo stops and be generated again on the
    /// client's retry); the activation moves to the other silo, where the same turn (the gateway's re-dispatch) runs once and
    /// continues the conversation.
    /// </summary>
    [Fact]
    public async Task A_new_turn_on_a_draining_silo_runs_once_on_another_silo_and_never_reaches_the_provider_from_the_draining_one()
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        var first = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "before the drain")]));
        var management = fixture.Grains.GetGrain<IManagementGrain>(0);
        var draining = await management.GetActivationAddress(grain);
        Assert.NotNull(draining);
        var activeTurns = fixture.Cluster.GetSiloServiceProvider(draining).GetRequiredService<ActiveTurns>();

        var tag = "drain-" + Guid.NewGuid().ToString("N")[..10];
        var body = Items.Body([Items.Message("user", "during the drain")], previousResponseId: first.ResponseId());
        body["metadata"] = new JsonObject { ["sim_tag"] = tag };
        var request = Turns.Request(body) with { TurnId = "turn-" + tag };
        activeTurns.BeginDrain();
        try
        {
            await Assert.ThrowsAsync<OwnerDeactivatingException>(async () => await grain.RunTurn(request));
            Assert.DoesNotContain(fixture.Simulator.Ledger.Requests, r => r.Tag == tag);

            // The gateway's re-dispatch, by hand: the same turn again until the moved activation takes it.
            var events = await grain.RedispatchAsync(request);
            Assert.Contains(events, e => e.Type == "response.completed");
            var moved = await management.GetActivationAddress(grain);
            Assert.NotNull(moved);
            Assert.NotEqual(draining, moved);
            var upstream = Assert.Single(fixture.Simulator.Ledger.Requests, r => r.Tag == tag);
            Assert.Equal(RequestOutcome.Completed, upstream.Outcome);
            Assert.Equal(events.ResponseId(), upstream.ResponseId);
            // It continued the conversation: anchored on the first answer, or (a new socket) with its context in full.
            Assert.True(upstream.PreviousResponseId == first.ResponseId() || upstream.InputItemCount >= 3, $"the moved turn lost its context: {upstream}");
        }
        finally
        {
            activeTurns.EndDrain();
        }
    }
}
