using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// A turn is generated once, whatever fails around it (real processes, real Redis): a gateway killed mid-stream costs the
/// client a reconnect (its retry through another gateway attaches to the running or finished turn), a short stall of the
/// owner silo is invisible, a stall past its death declaration costs at most one more generation and never two answers,
/// and a killed owner's turn is recovered on the survivor. Generations are counted from the simulator's ledger: every
/// upstream request that carries the test's marker is hit by a marker fault (a Delay fault, forever), so the requests
/// with <c>Generate</c> and that fault label are the marker's generations. The tests that kill or freeze a gateway share the
/// collection's cluster (and leave every gateway running); those that stall or kill a silo start their own.
/// </summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class ExactlyOnceClusterTests(ClusterSmokeFixture shared, ITestOutputHelper output)
{
    private const string ApiKey = "sk-exactly-once-key";
    private const string Path = "/v1/responses";
    private const string MarkerFaultLabel = "Delay";

    /// <summary>A slow answer: 28 events 150 ms apart, about 4 s from response.created to response.completed.</summary>
    internal static Fault SlowStream(string marker) =>
        (Fault.Delay(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(150)) with { TextDeltas = 30 }).WhenTextContains(marker).Forever();

    private static Task<ClusterHarness> StartAsync(string label, int silos, int gateways) =>
        ClusterHarness.StartAsync(silos, gateways, new ClusterHarnessOptions
        {
            Label = label, ApiKey = ApiKey,
            // Membership decisions (suspicions, suppressed votes, deaths) are logged at Information: they explain the timings.
            SiloArgs = ["--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:Orleans.Runtime.MembershipService", "Information"],
            GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
        });

    public enum RetryingClient
    {
        /// <summary>previous_response_id and an Idempotency-Key header: the retry carries the same turn id.</summary>
        AnchoredWithIdempotencyKey,

        /// <summary>previous_response_id, no key: the retry gets a new turn id and is matched by its content.</summary>
        AnchoredWithoutKey,

        /// <summary>The Codex CLI over HTTP (store:false): full history, no key; routed by content, matched by content.</summary>
        FullHistoryWithoutKey,

        /// <summary>
        /// The Codex CLI over websockets (captured with codex 0.169): a warm-up, then the turn anchored on it; its retry, on
        /// a new connection, is the full history without an anchor and with client_metadata in another order.
        /// </summary>
        CodexWebSocket,

        /// <summary>
        /// A response in a conversation (<c>conversation</c>, as the Agents SDK's <c>conversationId</c> sends it), no key: the
        /// retry is routed from the conversation again, matched by its content, and its items are added to it once.
        /// </summary>
        ConversationWithoutKey,
    }

    [Theory]
    [InlineData(RetryingClient.AnchoredWithIdempotencyKey)]
    [InlineData(RetryingClient.AnchoredWithoutKey)]
    [InlineData(RetryingClient.FullHistoryWithoutKey)]
    [InlineData(RetryingClient.CodexWebSocket)]
    [InlineData(RetryingClient.ConversationWithoutKey)]
    public Task Kill_9_of_the_gateway_carrying_a_turn_mid_stream_costs_a_reconnect_not_a_second_generation(RetryingClient style) =>
        OnSharedClusterAsync(cluster => KillGatewayMidStreamAsync(cluster, style));

    /// <summary>A gateway-loss test on the collection's cluster (2 silos, 2 gateways), which it leaves with every gateway running.</summary>
    private async Task OnSharedClusterAsync(Func<ClusterHarness, Task> test)
    {
        try
        {
            await test(shared.Cluster);
        }
        finally
        {
            await shared.Cluster.RestoreGatewaysAsync();
        }
    }

    private async Task KillGatewayMidStreamAsync(ClusterHarness cluster, RetryingClient style)
    {
        var measured = new List<string>();
        foreach (var providerFinished in new[] { false, true })
        {
            var gw1 = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
            var gw2 = cluster.CreateClient(cluster.Gateways[1], TimeSpan.FromSeconds(90));
            var marker = Rx.Marker("gwkill");
            await cluster.Sim.AddFaultAsync(SlowStream(marker));

            // Turn 1 (quick, no marker) makes a conversation both gateways can route to.
            var system = Items.Message("developer", "sys " + marker[..12] + " " + new string('s', 500));
            var q1 = Items.Message("user", "q1 of " + marker[..12]);
            var codex = style == RetryingClient.CodexWebSocket;
            var thread = "thread-" + marker; // the Codex CLI names its thread in headers and prompt_cache_key
            var cacheKey = codex ? thread : null;
            var conversation = style == RetryingClient.ConversationWithoutKey ? await CreateConversationAsync(gw1, system) : null;
            var first = await SseClient.PostAsync(gw1, Path, conversation is null ? Items.Body([system, q1], stream: false, cacheKey: cacheKey) : InConversation(Items.Body([q1], stream: false), conversation),
                codex ? Items.Session(thread) : null);
            Assert.True(Rx.IsCompleted(first), Rx.Describe(first));
            var q2 = Items.Message("user", "q2 " + marker);
            JsonNode[] history = [system, q1, .. Rx.OutputsOf(first).Select(o => o.ToNode()), q2];
            var body = (style == RetryingClient.FullHistoryWithoutKey ? Items.Body(history, stream: true)
                : conversation is not null ? InConversation(Items.Body([q2], stream: true), conversation)
                : Items.Body([q2], stream: true, previousResponseId: Rx.ResponseIdOf(first))).ToJsonString();
            var headers = style == RetryingClient.AnchoredWithIdempotencyKey
                ? new Dictionary<string, string> { [Gateway.Routing.TurnDispatcher.IdempotencyHeader] = "idem-" + Guid.NewGuid().ToString("N") }
                : codex ? Items.Session(thread) : [];

            var since = DateTimeOffset.UtcNow;
            var original = codex
                ? LiveTurn.StartWebSocket(cluster.Gateways[0].HttpBase!, ClusterSmokeFixture.ApiKey, Path, headers, warmUp: Items.Body([system], cacheKey: cacheKey),
                    warmUpId => Frame(Items.Body(history[1..], previousResponseId: warmUpId, cacheKey: cacheKey).WithClientMetadata(thread, marker)))
                : LiveTurn.Start(gw1, body, headers);
            await original.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));
            var originalId = original.Events[0].ResponseId;
            Assert.Equal("response.created", original.Events[0].Type);
            Assert.NotNull(originalId);
            await cluster.Gateways[0].KillAsync();
            var killedAt = DateTimeOffset.UtcNow;
            var relayedBeforeKill = original.Events.Count;

            if (providerFinished)
            {
                await cluster.Sim.WaitUntilAsync(l => Generations(l.Requests, since).Any(r => r.Outcome == RequestOutcome.Completed), TimeSpan.FromSeconds(30));
            }

            // The client retries the same request (same body, same headers) through the other gateway; the Codex CLI over
            // websockets sends its full history on a new connection.
            var retry = codex
                ? LiveTurn.StartWebSocket(cluster.Gateways[1].HttpBase!, ClusterSmokeFixture.ApiKey, Path, headers, warmUp: null,
                    _ => Frame(Items.Body(history, cacheKey: cacheKey).WithClientMetadata(thread, marker, attempt: 1)))
                : LiveTurn.Start(gw2, body, headers);
            await retry.Completion.WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(1)); // a second generation, if any, would be in the ledger by now
            var generations = Generations(await cluster.Sim.GetRequestsAsync(), since);
            foreach (var r in generations) output.WriteLine("  ledger: " + LedgerText.Line(r) + $" started {r.StartedAt:HH:mm:ss.fff} ended {r.EndedAt:HH:mm:ss.fff}");
            output.WriteLine($"[{style}, provider {(providerFinished ? "already finished" : "still generating")} at the retry] original relayed {relayedBeforeKill} events before kill -9; " +
                             $"retry: {retry.Describe()}");

            Assert.True(retry.IsCompleted, "the retry did not complete: " + retry.Describe());
            Assert.All(retry.Events.Where(e => e.ResponseId is not null), e => Assert.Equal(originalId, e.ResponseId));
            Assert.Equal("response.created", retry.Events[0].Type);
            Assert.True(generations.Count == 1, $"{generations.Count} generations for one turn: {LedgerText.Lines(generations, "; ")}");
            var providerDone = generations[0].EndedAt ?? throw new InvalidOperationException("the generation has no end");

            var sendToFirst = (retry.Events[0].At - retry.SentAt).TotalSeconds;
            var sendToDone = (retry.CompletedAt!.Value - retry.SentAt).TotalSeconds;
            var providerToDone = (retry.CompletedAt!.Value - providerDone).TotalSeconds;
            var line = providerFinished
                ? $"{style}: provider finished {(retry.SentAt - providerDone).TotalSeconds:F2}s before the retry; retry sent -> first event {sendToFirst:F3}s -> completed {sendToDone:F3}s"
                : $"{style}: retry sent {(retry.SentAt - killedAt).TotalSeconds:F2}s after the kill, provider finished {(providerDone - retry.SentAt).TotalSeconds:F2}s after the retry was sent; " +
                  $"retry sent -> first event {sendToFirst:F3}s -> completed {sendToDone:F3}s, provider completion -> retry completed {providerToDone:F3}s";
            measured.Add(line);
            output.WriteLine(line);
            if (providerFinished)
            {
                Assert.True(sendToDone < 1, line);
            }
            else
            {
                Assert.True(providerDone > retry.SentAt, "the provider had already finished: this case would not test a running turn. " + line);
                Assert.True(providerToDone < 1, line);
            }
            if (conversation is not null)
            {
                // The killed gateway never added the response; the retry's gateway did, once: system, q1, a1, q2, a2.
                var items = await ConversationTextsAsync(gw2, conversation);
                Assert.True(items.Count == 5 && items.Count(t => t == "q2 " + marker) == 1, "conversation items: " + string.Join(" | ", items));
            }

            await cluster.Gateways[0].StartAsync(); // for the next case
        }

        foreach (var line in measured) output.WriteLine("MEASURED " + line);
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    /// <summary>
    /// A gateway frozen mid-stream (SIGSTOP) holds its client's stream, not the turn. Thawed a few seconds later, after the
    /// provider finished, it relays the rest where it stopped. A client that gives up on it and sends the same request
    /// through the other gateway gets the same response; the frozen gateway, thawed while that retry still streams, sees
    /// its client gone and changes nothing: one generation each, the retry whole, and the thawed gateway serves the next turn.
    /// </summary>
    [Fact]
    public Task A_gateway_frozen_mid_stream_resumes_its_stream_when_thawed_and_a_retry_elsewhere_is_not_disturbed_by_it() =>
        OnSharedClusterAsync(FreezeGatewayMidStreamAsync);

    private async Task FreezeGatewayMidStreamAsync(ClusterHarness cluster)
    {
        var gw1 = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var gw2 = cluster.CreateClient(cluster.Gateways[1], TimeSpan.FromSeconds(90));
        async Task<(string Marker, string Body, DateTimeOffset Since)> SlowTurnAsync(string label)
        {
            var marker = Rx.Marker(label);
            await cluster.Sim.AddFaultAsync(SlowStream(marker));
            var first = await SseClient.PostAsync(gw2, Path, Items.Body([Items.Message("user", "q1 of " + marker[..12])], stream: false));
            Assert.True(Rx.IsCompleted(first), Rx.Describe(first));
            return (marker, Items.Body([Items.Message("user", "q2 " + marker)], previousResponseId: Rx.ResponseIdOf(first)).ToJsonString(), DateTimeOffset.UtcNow);
        }

        // 1. Frozen, then thawed with its client still waiting: the stream goes on where it stopped.
        var (marker, body, since) = await SlowTurnAsync("gwstop");
        var held = LiveTurn.Start(gw1, body, new Dictionary<string, string>());
        await held.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));
        await cluster.Gateways[0].PauseAsync();
        await cluster.Sim.WaitUntilAsync(l => Generations(l.Requests, since).Any(r => r.Outcome == RequestOutcome.Completed), TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(1));
        await cluster.Gateways[0].ResumeAsync();
        await held.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"held through the freeze: {held.Describe()}; longest gap {held.LongestGap().TotalSeconds:F2}s");
        Assert.True(held.IsCompleted, "the stream did not go on after the thaw: " + held.Describe());
        held.AssertContiguous();
        Assert.Single(held.Events.Where(e => e.ResponseId is not null).Select(e => e.ResponseId).Distinct());
        Assert.Single(Generations(await cluster.Sim.GetRequestsAsync(), since));

        // 2. Frozen, its client gives up and retries through the other gateway; thawed while the retry streams.
        (marker, body, since) = await SlowTurnAsync("gwstop-retry");
        using var giveUp = new CancellationTokenSource();
        var abandoned = LiveTurn.Start(gw1, body, new Dictionary<string, string>(), giveUp: giveUp.Token);
        await abandoned.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));
        await cluster.Gateways[0].PauseAsync();
        var pausedAt = DateTimeOffset.UtcNow;
        await giveUp.CancelAsync();
        var retry = LiveTurn.Start(gw2, body, new Dictionary<string, string>());
        // Frozen past the gateway's own owner watch (2 s), and thawed while the retry still streams live events.
        await retry.WaitUntilAsync(t => t.Events.Count >= abandoned.Events.Count + 8 && DateTimeOffset.UtcNow - pausedAt > TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(30));
        await cluster.Gateways[0].ResumeAsync();
        var thawedWith = retry.Events.Count;
        await retry.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1)); // a second generation, if any, would be in the ledger by now
        output.WriteLine($"retry through gw2: {retry.Describe()}; gw1 frozen {(DateTimeOffset.UtcNow - pausedAt).TotalSeconds:F2}s before this line, thawed when the retry had {thawedWith} events");
        Assert.True(thawedWith < 37, "the retry had ended before the thaw: this case would not test a thaw during it");
        var generations = Generations(await cluster.Sim.GetRequestsAsync(), since);
        Assert.True(retry.IsCompleted, "the retry did not complete: " + retry.Describe());
        Assert.True(generations.Count == 1, $"{generations.Count} generations for one turn: {LedgerText.Lines(generations, "; ")}");
        Assert.All(retry.Events.Where(e => e.ResponseId is not null), e => Assert.Equal(abandoned.Events[0].ResponseId, e.ResponseId));

        // The thawed gateway serves the next turn, after the retry's response, as a delta.
        var next = await SseClient.PostAsync(gw1, Path, Items.Body([Items.Message("user", "q3 " + marker[..12])], stream: false, previousResponseId: retry.CompletedResponseId));
        Assert.True(Rx.IsCompleted(next), Rx.Describe(next));
        var upstream = (await cluster.Sim.GetRequestsAsync()).Single(r => r.ResponseId == Rx.ResponseIdOf(next));
        Assert.Equal((true, generations[0].ResponseId), (upstream.IsDelta, upstream.PreviousResponseId));
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    public enum StallPoint
    {
        /// <summary>After a few events of a slow stream (about 4 s long).</summary>
        MidStream,

        /// <summary>Before response.created: the provider answers 3 s after the request, the owner freezes at 0.5 s.</summary>
        BeforeResponseCreated,

        /// <summary>
        /// Before response.created, and the whole answer reaches the frozen owner's socket during the stall (2 s after the
        /// request: the owner freezes at 0.5 s, so a test process slowed by a loaded machine still freezes it first).
        /// </summary>
        AnswerArrivesDuringStall,
    }

    [Theory]
    [InlineData(StallPoint.MidStream)]
    [InlineData(StallPoint.BeforeResponseCreated)]
    [InlineData(StallPoint.AnswerArrivesDuringStall)]
    public async Task A_2_5_s_stall_of_the_owner_silo_is_invisible_and_costs_no_second_generation(StallPoint point)
    {
        await using var cluster = await StartAsync("once-stall", silos: 2, gateways: 1);
        var (owner, turn, since, marker, _) = await StallOwnerAsync(cluster, point, TimeSpan.FromSeconds(2.5));
        await turn.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(4)); // a silo declared dead while frozen kills itself right after SIGCONT
        var generations = Generations(await cluster.Sim.GetRequestsAsync(), since);
        await ReportAsync(cluster, turn, generations);

        var evicted = EvictedAt(cluster.Silos.Single(s => s != owner), PausedAt(owner));
        output.WriteLine($"owner {owner.Name} after the stall: {(owner.IsRunning ? "running" : $"exited ({owner.ExitCode})")}, {(evicted is null ? "never declared dead" : $"declared dead {(evicted.Value - PausedAt(owner)).TotalSeconds:F2}s after SIGSTOP")}");
        Assert.Null(evicted);
        Assert.True(owner.IsRunning && !owner.ExitedUnexpectedly,
            $"the owner did not survive a 2.5 s stall (exit code {owner.ExitCode}):\n{owner.Tail(40)}");
        Assert.True(turn.IsCompleted, "the client did not get its answer: " + turn.Describe());
        Assert.DoesNotContain(turn.Events, e => e.Type is "response.failed" or "error");
        Assert.Single(turn.Events, e => e.IsTerminal);
        turn.AssertContiguous();
        Assert.True(generations.Count == 1, $"{generations.Count} generations for one turn: {LedgerText.Lines(generations, "; ")}");
        Assert.Equal(0, await RegenerationsAsync(cluster, expected: 0)); // and the dashboard shows no duplicated work

        var next = await SseClient.PostAsync(cluster.CreateClient(cluster.Gateways[0]), Path,
            Items.Body([Items.Message("user", "after the stall " + marker)], stream: false, previousResponseId: turn.CompletedResponseId));
        Assert.True(Rx.IsCompleted(next), Rx.Describe(next));
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    [Theory]
    [InlineData(StallPoint.MidStream)]
    [InlineData(StallPoint.BeforeResponseCreated)]
    public async Task A_5_s_stall_past_death_declaration_costs_at_most_two_generations_and_the_client_sees_one_answer_or_one_retryable_failure(StallPoint point)
    {
        await using var cluster = await StartAsync("once-stall5", silos: 2, gateways: 1);
        var (owner, turn, since, marker, first) = await StallOwnerAsync(cluster, point, TimeSpan.FromSeconds(5), pastDeathDeclaration: true);
        await turn.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var generations = Generations(await cluster.Sim.GetRequestsAsync(), since);
        await ReportAsync(cluster, turn, generations);
        var paused = PausedAt(owner);
        var evicted = EvictedAt(cluster.Silos.Single(s => s != owner), paused);
        output.WriteLine($"MEASURED owner {owner.Name} after the 5 s stall: {(owner.IsRunning ? "running" : $"exited ({owner.ExitCode})")}, " +
                         $"{(evicted is null ? "never declared dead" : $"declared dead {(evicted.Value - paused).TotalSeconds:F2}s after SIGSTOP")}");
        Assert.True(evicted is not null, "the owner was not declared dead during its stall (5 s, held up to 15 s more): the test would not prove what it says");

        Assert.True(generations.Count <= 2, $"{generations.Count} generations for one turn: {LedgerText.Lines(generations, "; ")}");
        // What an operator sees: the generations beyond the turn's first, as many as the provider really ran.
        var regenerations = await RegenerationsAsync(cluster, expected: generations.Count - 1);
        output.WriteLine($"MEASURED {point}: {generations.Count} generations in the ledger, codexlb_turn_regenerations_total {regenerations}");
        Assert.Equal(generations.Count - 1, regenerations);
        if (turn.Status is { } status && (int)status >= 500)
        {
            Assert.Empty(turn.Events); // a 5xx before any event (retryable by status)
        }
        else
        {
            Assert.True(turn.Status == HttpStatusCode.OK, turn.Describe());
            var terminals = turn.Events.Where(e => e.IsTerminal).ToList();
            Assert.True(terminals.Count == 1, "expected exactly one terminal event: " + turn.Describe());
            Assert.True(turn.Events[^1].IsTerminal, "events after the terminal one, or a stream that ended without one: " + turn.Describe());
            Assert.True(terminals[0].Type == "response.completed" || (terminals[0].Type == "response.failed" && Rx.IsRetryableCode(terminals[0].ErrorCode)),
                "neither an answer nor a retryable failure: " + turn.Describe());
            Assert.DoesNotContain(turn.Events, e => e.Type == "error");
        }

        // The conversation continues from its last completed response.
        var last = turn.CompletedResponseId ?? first;
        var next = await SseClient.PostAsync(cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(60)), Path,
            Items.Body([Items.Message("user", "after the long stall " + marker)], stream: false, previousResponseId: last));
        output.WriteLine($"next turn on {last}: {Rx.Describe(next)}");
        Assert.True(Rx.IsCompleted(next), Rx.Describe(next));
    }

    [Fact]
    public async Task Kill_9_of_the_owner_silo_is_recovered()
    {
        await using var cluster = await StartAsync("once-kill", silos: 2, gateways: 1);
        var http = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var marker = Rx.Marker("ownerkill");
        var first = await SseClient.PostAsync(http, Path, Items.Body([Items.Message("developer", "sys"), Items.Message("user", "q1")], stream: false));
        Assert.True(Rx.IsCompleted(first), Rx.Describe(first));
        var owner = await cluster.OwnerOfOnlyConversationAsync();

        // The first generation waits 3 s before response.created (the kill lands in it); any later one is quick.
        await cluster.Sim.AddFaultAsync(Fault.Delay(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(20)).WhenTextContains(marker).Times(1));
        await cluster.Sim.AddFaultAsync(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(20)).WhenTextContains(marker).Forever());
        var since = DateTimeOffset.UtcNow;
        var turn = LiveTurn.Start(http, Items.Body([Items.Message("user", "q2 " + marker)], previousResponseId: Rx.ResponseIdOf(first)).ToJsonString(), new Dictionary<string, string>());
        await cluster.Sim.WaitUntilAsync(l => Generations(l.Requests, since).Any(), TimeSpan.FromSeconds(20));
        await Task.Delay(300);
        Assert.Empty(turn.Events);
        var killedAt = DateTimeOffset.UtcNow;
        await owner.KillAsync();

        await turn.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var generations = Generations(await cluster.Sim.GetRequestsAsync(), since);
        await ReportAsync(cluster, turn, generations);
        var recovery = ((turn.CompletedAt ?? turn.EndedAt!.Value) - killedAt).TotalSeconds;
        var evicted = EvictedAt(cluster.Silos.Single(s => s != owner), killedAt);
        var answered = generations.FirstOrDefault(r => r.ResponseId is not null && r.ResponseId == turn.CompletedResponseId);
        output.WriteLine($"MEASURED kill -9 of the owner ({owner.Name}) before response.created -> declared dead " +
                         $"{(evicted is null ? "never" : $"{(evicted.Value - killedAt).TotalSeconds:F2}s")}, -> the new owner's generation started " +
                         $"{(answered is null ? "-" : $"{(answered.StartedAt - killedAt).TotalSeconds:F2}s")}, -> client's completed answer: {recovery:F2}s");

        // The mechanism, not a stopwatch (CI has 2 cores): membership declared the owner dead, and the turn ran again,
        // once, on the survivor, whose answer is the one the client got; the dashboard counts that repeat.
        Assert.True(turn.IsCompleted, "the turn was not recovered: " + turn.Describe());
        Assert.True(evicted is not null, "membership never declared the killed owner dead");
        Assert.True(generations.Count is 1 or 2, $"{generations.Count} generations for one turn: {LedgerText.Lines(generations, "; ")}");
        Assert.True(answered is not null && answered.StartedAt > killedAt,
            $"the client's answer {turn.CompletedResponseId} is not a generation that started after the kill: {LedgerText.Lines(generations, "; ")}");
        Assert.Equal(generations.Count - 1, await RegenerationsAsync(cluster, expected: generations.Count - 1));
        Assert.True(recovery < 15, $"recovery took {recovery:F2}s"); // a hang, not a timing goal
        Assert.Single(turn.Events, e => e.IsTerminal);
        turn.AssertContiguous();
        var next = await SseClient.PostAsync(http, Path, Items.Body([Items.Message("user", "after the kill")], stream: false, previousResponseId: turn.CompletedResponseId));
        Assert.True(Rx.IsCompleted(next), Rx.Describe(next));
    }

    /// <summary>
    /// Turn 1 makes a conversation; its owner is found; turn 2 (with the marker) is slow upstream and streamed; the owner is
    /// SIGSTOPped mid-stream (after a few events) or before response.created, for <paramref name="stall"/>, then SIGCONTed.
    /// </summary>
    /// <param name="pastDeathDeclaration">
    /// Keep the owner stopped after <paramref name="stall"/> until the other silo has declared it dead (at most 15 s more):
    /// how long that takes varies (Orleans suppresses a suspicion vote for 4 s after the last message from a silo), and a
    /// stall that ended first would not test what happens past the declaration.
    /// </param>
    private async Task<(ManagedProcess Owner, LiveTurn Turn, DateTimeOffset Since, string Marker, string First)> StallOwnerAsync(
        ClusterHarness cluster, StallPoint point, TimeSpan stall, bool pastDeathDeclaration = false)
    {
        var http = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var marker = Rx.Marker("stall");
        var first = await SseClient.PostAsync(http, Path, Items.Body([Items.Message("developer", "sys"), Items.Message("user", "q1")], stream: false));
        Assert.True(Rx.IsCompleted(first), Rx.Describe(first));
        var owner = await cluster.OwnerOfOnlyConversationAsync();
        output.WriteLine($"owner {owner.Name} (pid {owner.Pid})");

        if (point is StallPoint.BeforeResponseCreated or StallPoint.AnswerArrivesDuringStall)
        {
            var firstEvent = TimeSpan.FromSeconds(point == StallPoint.BeforeResponseCreated ? 3 : 2);
            await cluster.Sim.AddFaultAsync(Fault.Delay(firstEvent, TimeSpan.FromMilliseconds(50)).WhenTextContains(marker).Times(1));
            await cluster.Sim.AddFaultAsync(Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(50)).WhenTextContains(marker).Forever());
        }
        else await cluster.Sim.AddFaultAsync(SlowStream(marker));

        var since = DateTimeOffset.UtcNow;
        var turn = LiveTurn.Start(http, Items.Body([Items.Message("user", "q2 " + marker)], previousResponseId: Rx.ResponseIdOf(first)).ToJsonString(), new Dictionary<string, string>());
        if (point != StallPoint.MidStream)
        {
            await Task.Delay(500);
            Assert.Empty(turn.Events);
        }
        else await turn.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));

        var pausedAt = DateTimeOffset.UtcNow;
        await owner.PauseAsync();
        await Task.Delay(stall);
        var survivor = cluster.Silos.First(s => s != owner);
        for (var held = TimeSpan.Zero; pastDeathDeclaration && EvictedAt(survivor, PausedAt(owner)) is null && held < TimeSpan.FromSeconds(15);
             held += TimeSpan.FromMilliseconds(100))
            await Task.Delay(100);
        await owner.ResumeAsync();
        output.WriteLine($"SIGSTOP {owner.Name} {(pausedAt - turn.SentAt).TotalSeconds:F2}s after the request was sent ({turn.Events.Count} events relayed), " +
                         $"SIGCONT {(DateTimeOffset.UtcNow - pausedAt).TotalSeconds:F2}s later");
        return (owner, turn, since, marker, Rx.ResponseIdOf(first)!);
    }

    private async Task ReportAsync(ClusterHarness cluster, LiveTurn turn, IReadOnlyList<RequestRecord> generations)
    {
        output.WriteLine("client: " + turn.Describe());
        foreach (var process in cluster.Silos.Concat(cluster.Gateways).Where(p => p.IsRunning))
        {
            try
            {
                var metrics = await cluster.CreateClient(process, TimeSpan.FromSeconds(5)).GetStringAsync("/metrics");
                var lines = metrics.Split('\n').Where(l => !l.StartsWith('#') && (l.StartsWith("codexlb_turn_reattachments", StringComparison.Ordinal)
                    || l.StartsWith("codexlb_turn_regenerations", StringComparison.Ordinal) || l.StartsWith("codexlb_turn_generations_sum", StringComparison.Ordinal)
                    || l.StartsWith("codexlb_turns_total", StringComparison.Ordinal) || l.StartsWith("codexlb_turn_cancellations", StringComparison.Ordinal)
                    || l.StartsWith("codexlb_gateway_rebinds", StringComparison.Ordinal) || l.StartsWith("codexlb_gateway_turns_total", StringComparison.Ordinal)));
                output.WriteLine($"{process.Name} metrics: {string.Join(" | ", lines)}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                output.WriteLine($"{process.Name} metrics: unavailable ({ex.GetType().Name})");
            }
        }
        output.WriteLine($"longest silence between two events the client saw: {turn.LongestGap().TotalSeconds:F2}s");
        foreach (var r in generations)
            output.WriteLine("  ledger: " + LedgerText.Line(r) + $" started {r.StartedAt:HH:mm:ss.fff} ended {r.EndedAt:HH:mm:ss.fff}");
        foreach (var process in cluster.Silos.Concat(cluster.Gateways))
            output.WriteLine($"---- {process.Name} ({(process.IsRunning ? "running" : $"exited {process.ExitCode}")}) last lines:\n{process.Tail(25)}");
    }

    /// <summary>
    /// <c>codexlb_turn_regenerations_total</c> summed over the running silos (a silo declared dead takes its counts with it),
    /// once it equals <paramref name="expected"/> or 5 s passed (the exporter caches a scrape for 300 ms).
    /// </summary>
    private static async Task<double> RegenerationsAsync(ClusterHarness cluster, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var sum = 0.0;
            foreach (var silo in cluster.Silos.Where(s => s.IsRunning))
            {
                try { sum += await cluster.MetricAsync(silo, "codexlb_turn_regenerations_total"); }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { } // exiting after its death declaration
            }
            if (sum == expected || DateTime.UtcNow > deadline) return sum;
            await Task.Delay(200);
        }
    }

    /// <summary>When <paramref name="survivor"/>'s membership evicted (declared dead) a silo after <paramref name="after"/>, from its log.</summary>
    private static DateTimeOffset? EvictedAt(ManagedProcess survivor, DateTimeOffset after)
    {
        foreach (var line in survivor.Tail(2000).Split('\n'))
        {
            if (!line.Contains("Evicting '", StringComparison.Ordinal) || line.Length < 12) continue;
            if (!TimeOnly.TryParseExact(line[..12], "HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)) continue;
            var at = new DateTimeOffset(after.UtcDateTime.Date + time.ToTimeSpan(), TimeSpan.Zero); // the harness stamps UTC
            if (at < after - TimeSpan.FromHours(12)) at = at.AddDays(1);
            if (at >= after) return at;
        }
        return null;
    }

    /// <summary>When the harness last sent SIGSTOP to <paramref name="process"/>, from its log.</summary>
    private static JsonObject InConversation(JsonObject body, string conversation)
    {
        body["conversation"] = conversation;
        body["store"] = true;
        return body;
    }

    private static async Task<string> CreateConversationAsync(HttpClient gateway, JsonNode item)
    {
        using var created = await gateway.PostAsync("/v1/conversations", new StringContent(new JsonObject { ["items"] = new JsonArray(item.DeepClone()) }.ToJsonString(), Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Assert.True(created.IsSuccessStatusCode, json.ToString());
        return json.GetProperty("id").GetString()!;
    }

    /// <summary>The texts of a conversation's items in order (a message's first content part).</summary>
    private static async Task<List<string>> ConversationTextsAsync(HttpClient gateway, string conversation)
    {
        var json = JsonDocument.Parse(await gateway.GetStringAsync($"/v1/conversations/{conversation}/items?order=asc&limit=100")).RootElement;
        return [.. json.GetProperty("data").EnumerateArray().Select(i => i.TryGetProperty("content", out var c) && c.GetArrayLength() > 0 ? c[0].GetProperty("text").GetString() ?? "" : "")];
    }

    private static DateTimeOffset PausedAt(ManagedProcess process)
    {
        var line = process.Tail(2000).Split('\n').Last(l => l.Contains("==== SIGSTOP", StringComparison.Ordinal));
        var time = TimeOnly.ParseExact(line[..12], "HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var today = DateTimeOffset.UtcNow;
        var at = new DateTimeOffset(today.UtcDateTime.Date + time.ToTimeSpan(), TimeSpan.Zero);
        return at > today + TimeSpan.FromHours(1) ? at.AddDays(-1) : at;
    }

    /// <summary>The marker's generations: the upstream requests the marker fault hit that asked the provider to generate.</summary>
    private static List<RequestRecord> Generations(IEnumerable<RequestRecord> requests, DateTimeOffset since) =>
        requests.Where(r => r.Generate && r.Fault == MarkerFaultLabel && r.StartedAt >= since).ToList();

    /// <summary>A create body as a websocket <c>response.create</c> frame.</summary>
    private static string Frame(JsonObject body)
    {
        body["type"] = "response.create";
        body.Remove("stream");
        return body.ToJsonString();
    }
}
