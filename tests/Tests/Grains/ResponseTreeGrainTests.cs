using System.Text;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Grains;

/// <summary>The response tree as a conversation grain uses it: forks, shared sessions, warm-ups, content matches.</summary>
[Collection(GrainClusterCollection.Name)]
public sealed class ResponseTreeGrainTests(GrainClusterFixture fixture)
{
    private static string NewKey() => ConversationKey.Create("tree-tests", "session", Guid.NewGuid().ToString("N"));

    private RequestRecord Upstream(string responseId) => fixture.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    private static List<JsonNode> History(string tag) => [Items.Message("developer", "sys " + tag), Items.Message("user", "q1 " + tag)];

    private static void AssertCompleted(IReadOnlyList<TurnEvent> events)
    {
        Assert.All(events, e => Assert.Null(e.Rejection));
        Assert.Equal("response.completed", events[^1].Type);
    }

    [Fact]
    public async Task Forks_invalidate_nothing_every_issued_id_still_continues()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var root = await Turns.RunAsync(grain, Items.Body(History("fork")));
        var left = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "left")], previousResponseId: root.ResponseId()));
        var right = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "right")], previousResponseId: root.ResponseId()));
        // A full-history client editing its last message forks from the root too.
        var edited = await Turns.RunAsync(grain, Items.Body([.. History("fork"), .. root.Outputs(), Items.Message("user", "edited")]));
        foreach (var turn in new[] { root, left, right, edited }) AssertCompleted(turn);

        // Every branch continues, in any order, and each rebuild carries exactly its own branch.
        foreach (var (branch, label) in new[] { (left, "left"), (right, "right"), (edited, "edited"), (root, "root") })
        {
            var next = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "after " + label)], previousResponseId: branch.ResponseId()));
            AssertCompleted(next);
            var sent = Upstream(next.ResponseId());
            var context = 2 + root.Outputs().Count() + (branch == root ? 0 : 1 + branch.Outputs().Count());
            Assert.Equal(sent.IsDelta ? 1 : context + 1, sent.InputItemCount); // exactly its own branch, plus the new item
        }
    }

    [Fact]
    public async Task Two_clients_sharing_a_session_never_make_each_other_lose_an_id()
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        var a1 = await Turns.RunAsync(grain, Items.Body(History("client-a")));
        var b1 = await Turns.RunAsync(grain, Items.Body(History("client-b")));

        // Client A resends its own history: found by content, not reset by B's turn.
        var a2 = await Turns.RunAsync(grain, Items.Body([.. History("client-a"), .. a1.Outputs(), Items.Message("user", "a2")]));
        AssertCompleted(a2);
        var sentA2 = Upstream(a2.ResponseId());
        Assert.Equal(2 + a1.Outputs().Count() + 1, sentA2.InputItemCount); // A's own context, nothing of B's
        Assert.False(sentA2.IsDelta); // the socket held B's response: a rebuild, once

        // Client B continues the id we issued to it.
        var b2 = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "b2")], previousResponseId: b1.ResponseId()));
        AssertCompleted(b2);
        var a3 = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "a3")], previousResponseId: a2.ResponseId()));
        AssertCompleted(a3);
    }

    [Fact]
    public async Task A_warm_up_keeps_the_socket_anchor_and_a_resumed_history_goes_upstream_as_a_delta()
    {
        // The Codex CLI over websockets after `codex exec resume`: a warm-up with the system item only, then the whole
        // history anchored on the warm-up.
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var history = History("resume");
        var first = await Turns.RunAsync(grain, Items.Body(history));
        history.AddRange(first.Outputs());
        var before = fixture.Simulator.Ledger.Requests.Count;

        var warmBody = Items.Body([history[0]]);
        warmBody["generate"] = false;
        var warm = await Turns.RunAsync(grain, warmBody);
        AssertCompleted(warm);
        Assert.Equal(["response.created", "response.completed"], warm.Where(e => !e.IsHeartbeat).Select(e => e.Type));
        Assert.Equal(before, fixture.Simulator.Ledger.Requests.Count); // answered by the bridge

        var resumed = await Turns.RunAsync(grain, Items.Body([.. history.Skip(1), Items.Message("user", "q2")], previousResponseId: warm.ResponseId()));
        AssertCompleted(resumed);
        var sent = Upstream(resumed.ResponseId());
        Assert.True(sent.IsDelta, "the resumed turn went upstream in full");
        Assert.Equal(first.ResponseId(), sent.PreviousResponseId);
        Assert.Equal(1, sent.InputItemCount);

        // The warm-up id itself stays continuable, like every id we issue.
        var fromWarm = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "fresh")], previousResponseId: warm.ResponseId()));
        AssertCompleted(fromWarm);
    }

    [Fact]
    public async Task Echoed_history_in_sdk_shorthand_and_without_reasoning_matches_what_the_provider_returned()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body(History("sdk")));
        // Assistant text as {"role":"assistant","content":"…"} (no type, no id, string content), reasoning left out.
        var echoed = first.Outputs().Where(o => (string?)o["type"] != "reasoning").Select(o => (string?)o["type"] == "message"
            ? new JsonObject { ["role"] = "assistant", ["content"] = (string?)o["content"]![0]!["text"] }
            : o).ToList();
        var next = await Turns.RunAsync(grain, Items.Body([.. History("sdk"), .. echoed, Items.Message("user", "q2")]));
        AssertCompleted(next);
        var sent = Upstream(next.ResponseId());
        Assert.True(sent.IsDelta);
        Assert.Equal(1, sent.InputItemCount);
    }

    [Fact]
    public async Task A_response_whose_turn_failed_after_response_created_is_a_retryable_409_not_a_400()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var first = await Turns.RunAsync(grain, Items.Body(History("failed")));
        var marker = "failed-" + Guid.NewGuid().ToString("N")[..8];
        fixture.Simulator.Faults.Add(Fault.Failed().WhenTextContains(marker));
        var failed = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "q2 " + marker)], previousResponseId: first.ResponseId()));
        Assert.Equal("response.failed", failed[^1].Type);
        var failedId = failed.ResponseId();

        var chained = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "q3")], previousResponseId: failedId));
        var rejection = Assert.Single(chained).Rejection!;
        Assert.Equal((409, "previous_response_incomplete", "previous_response_id"), (rejection.Status, rejection.Code, rejection.Param));
        Assert.NotNull(rejection.RetryAfterSeconds);
        Assert.DoesNotContain(fixture.Simulator.Ledger.Requests, r => r.PreviousResponseId == failedId);
    }

    [Fact]
    public async Task An_activation_whose_conversation_a_newer_one_claimed_writes_nothing_and_fails_its_turn_retryably()
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        var first = await Turns.RunAsync(grain, Items.Body(History("fenced")));
        AssertCompleted(first);
        var newer = await fixture.Tree.ClaimAsync(key, CancellationToken.None); // another activation took the conversation over

        long fenced = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Name == "codexlb.state.fenced_writes") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref fenced, value));
        listener.Start();
        // The turn streams for a while (its first answer cannot carry the end), and its follower asks for the rest only
        // after a while too (a busy gateway): the fenced activation waits for it instead of leaving it an empty successor.
        var marker = "slow-" + Guid.NewGuid().ToString("N")[..8];
        fixture.Simulator.Faults.Add(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(50)).WhenTextContains(marker).Times(1));
        var stale = new List<TurnEvent>();
        var staleRequest = Turns.Request(Items.Body([Items.Message("user", marker)], previousResponseId: first.ResponseId()));
        await foreach (var e in grain.Follow(staleRequest, pauseBeforeEachRead: TimeSpan.FromMilliseconds(300))) stale.Add(e);

        Assert.True(stale[^1].Type == "response.failed",
            $"the stale turn ended with {stale[^1].Type} {stale[^1].Rejection} {Encoding.UTF8.GetString(stale[^1].Data)}");
        var code = JsonDocument.Parse(stale[^1].Data).RootElement.GetProperty("response").GetProperty("error").GetProperty("code").GetString();
        Assert.True(Rx.IsRetryableCode(code), code);
        Assert.True(Interlocked.Read(ref fenced) >= 1, "the refused write was not counted");
        var head = await fixture.Tree.ClaimAsync(key, CancellationToken.None);
        Assert.Equal((first.ResponseId(), 1, newer.Epoch + 1), (head.ResponseId, head.Turns, head.Epoch)); // the stale write changed nothing
        Assert.Equal(ResponseStatus.Pending, (await fixture.Tree.LoadPathAsync(ConversationKey.TenantOf(key), stale.ResponseId(), CancellationToken.None)).Status);

        // The fenced activation steps aside: the conversation's next turn runs on a new one and continues the last id.
        AssertCompleted(await grain.RedispatchAsync(Turns.Request(Items.Body([Items.Message("user", "q3")], previousResponseId: first.ResponseId()))));
    }

    [Fact]
    public async Task A_never_issued_id_is_400_not_found_and_another_tenant_cannot_continue_ours()
    {
        var grain = fixture.Grains.GetGrain<IConversationGrain>(NewKey());
        var rejected = await Turns.RunAsync(grain, Items.Body([Items.Message("user", "x")], previousResponseId: "resp_never_issued"));
        var rejection = Assert.Single(rejected).Rejection!;
        Assert.Equal((400, "previous_response_not_found"), (rejection.Status, rejection.Code));

        var ours = await Turns.RunAsync(grain, Items.Body(History("tenant")));
        var stranger = fixture.Grains.GetGrain<IConversationGrain>(ConversationKey.Create("other-tenant", "session", Guid.NewGuid().ToString("N")));
        var stolen = await Turns.RunAsync(stranger, Items.Body([Items.Message("user", "x")], previousResponseId: ours.ResponseId()));
        Assert.Equal(400, Assert.Single(stolen).Rejection!.Status);
    }

    [Fact]
    public async Task An_id_chained_on_while_its_turn_still_streams_routes_and_waits_for_it_never_400()
    {
        var key = NewKey();
        var grain = fixture.Grains.GetGrain<IConversationGrain>(key);
        var marker = "slow-" + Guid.NewGuid().ToString("N")[..8];
        fixture.Simulator.Faults.Add(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(150)).WhenTextContains(marker).Times(1));

        var running = grain.Follow(Turns.Request(Items.Body([Items.Message("user", marker)]))).GetAsyncEnumerator();
        string? createdId = null;
        while (createdId is null && await running.MoveNextAsync())
            if (running.Current.Type == "response.created")
                createdId = System.Text.Json.JsonDocument.Parse(running.Current.Data).RootElement.GetProperty("response").GetProperty("id").GetString();
        Assert.NotNull(createdId);

        // Any gateway can route it now, before it completes.
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, key), await fixture.Grains.GetGrain<IResponseIndexGrain>(0).Locate("tree-tests", createdId!));
        var chained = Turns.RunAsync(grain, Items.Body([Items.Message("user", "next")], previousResponseId: createdId));
        var last = running.Current;
        while (await running.MoveNextAsync()) last = running.Current;
        Assert.Equal("response.completed", last.Type);
        var next = await chained;
        AssertCompleted(next);
        Assert.Equal(createdId, Upstream(next.ResponseId()).PreviousResponseId);
    }
}
