using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// The response tree in production mode (real processes, real Redis): forks continue through any front door over HTTP
/// and websockets, keyless clients are found by content across gateways, every key expires, an expired id says so, a
/// stale owner (SIGSTOP past its death, then SIGCONT) is fenced and changes nothing the new owner relies on, a kill -9
/// during the persist step never yields a wrong context, and an id whose turn never completed is a retryable 409.
/// </summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class ResponseTreeClusterTests(ITestOutputHelper output)
{
    private const string ApiKey = "sk-response-tree-key";
    private const string Path = "/v1/responses";

    private static Task<ClusterHarness> StartAsync(string label, int silos, int gateways, params string[] siloArgs) =>
        ClusterHarness.StartAsync(silos, gateways, new ClusterHarnessOptions
        {
            Label = label, ApiKey = ApiKey,
            SiloArgs = ["--Logging:LogLevel:Default", "Warning", .. siloArgs],
            GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
        });

    private static async Task<TurnResult> PostAsync(HttpClient http, JsonObject body)
    {
        var result = await SseClient.PostAsync(http, Path, body);
        Assert.True(Rx.IsCompleted(result), Rx.Describe(result));
        return result;
    }

    [Fact]
    public async Task Forks_continue_through_any_front_door_keyless_clients_are_found_by_content_and_every_key_expires()
    {
        await using var cluster = await StartAsync("tree", silos: 2, gateways: 2);
        var (gw1, gw2) = (cluster.CreateClient(cluster.Gateways[0]), cluster.CreateClient(cluster.Gateways[1]));

        // HTTP: a root, two branches through different gateways, then each branch continued through the other one.
        var root = await PostAsync(gw1, Items.Body([Items.Message("developer", "sys"), Items.Message("user", "root")], stream: false));
        var left = await PostAsync(gw2, Items.Body([Items.Message("user", "left")], stream: false, previousResponseId: Rx.ResponseIdOf(root)));
        var right = await PostAsync(gw1, Items.Body([Items.Message("user", "right")], stream: false, previousResponseId: Rx.ResponseIdOf(root)));
        await PostAsync(gw1, Items.Body([Items.Message("user", "after left")], stream: false, previousResponseId: Rx.ResponseIdOf(left)));
        await PostAsync(gw2, Items.Body([Items.Message("user", "after right")], stream: false, previousResponseId: Rx.ResponseIdOf(right)));

        // Websocket: fork the same root again through the other gateway and continue both websocket branches.
        await using (var ws = await WsClient.ConnectAsync(cluster.Gateways[1].HttpBase!, ApiKey))
        {
            var a = await ws.TurnAsync(Items.Body([Items.Message("user", "ws a")], previousResponseId: Rx.ResponseIdOf(root)));
            var b = await ws.TurnAsync(Items.Body([Items.Message("user", "ws b")], previousResponseId: Rx.ResponseIdOf(left)));
            Assert.Equal("response.completed", a[^1].Type());
            Assert.Equal("response.completed", b[^1].Type());
            var a2 = await ws.TurnAsync(Items.Body([Items.Message("user", "ws a2")], previousResponseId: a.ResponseId()));
            Assert.Equal("response.completed", a2[^1].Type());
        }

        // A keyless full-history client, its second turn through the other gateway: found by content, sent as a delta.
        List<JsonNode> history = [new JsonObject { ["role"] = "user", ["content"] = "keyless " + Guid.NewGuid() }];
        var first = await PostAsync(gw1, new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonArray([.. history.Select(h => h.DeepClone())]) });
        history.AddRange(Rx.OutputsOf(first).Select(o => o.ToNode()));
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "and then?" });
        var second = await PostAsync(gw2, new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonArray([.. history.Select(h => h.DeepClone())]) });
        var upstream = await cluster.Sim.GetRequestForResponseAsync(Rx.ResponseIdOf(second)!);
        Assert.Equal(1, upstream.InputItemCount);
        Assert.Equal(Rx.ResponseIdOf(first), upstream.PreviousResponseId);

        // The same with the history echoed as item_references (the Vercel AI SDK's store:true on a reasoning model): found
        // through the other gateway by the item the last reference names, and sent as a delta.
        var think = new JsonObject { ["role"] = "user", ["content"] = "THINK_FIRST stored " + Guid.NewGuid() };
        var stored = await PostAsync(gw1, new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonArray(think.DeepClone()) });
        Assert.Equal(["reasoning", "message"], Rx.OutputsOf(stored).Select(o => o.GetProperty("type").GetString()));
        var references = new JsonArray(think.DeepClone());
        foreach (var output in Rx.OutputsOf(stored))
            references.Add(new JsonObject { ["type"] = "item_reference", ["id"] = output.GetProperty("id").GetString() });
        references.Add(new JsonObject { ["role"] = "user", ["content"] = "and then?" });
        var continued = await PostAsync(gw2, new JsonObject { ["model"] = "gpt-5.5", ["input"] = references });
        upstream = await cluster.Sim.GetRequestForResponseAsync(Rx.ResponseIdOf(continued)!);
        Assert.Equal(1, upstream.InputItemCount);
        Assert.Equal(Rx.ResponseIdOf(stored), upstream.PreviousResponseId);

        // Every key the bridge wrote expires; the only keys without a TTL are Orleans membership.
        using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.RedisConnectionString + ",allowAdmin=true");
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var (ours, others) = (0, new List<string>());
        await foreach (var key in server.KeysAsync(pattern: "*"))
        {
            var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(key);
            if (key.ToString().StartsWith("codexlb:", StringComparison.Ordinal))
            {
                ours++;
                Assert.True(ttl is { } t && t > TimeSpan.Zero, $"{key} has no TTL");
            }
            else others.Add($"{key} ttl={ttl?.ToString() ?? "none"}");
        }
        output.WriteLine($"{ours} bridge keys, all with a TTL; other keys: {string.Join(", ", others)}");
        Assert.True(ours > 0);
        Assert.All(others, k => Assert.Contains(cluster.ClusterId, k)); // membership of this cluster only
    }

    [Fact]
    public async Task An_expired_id_is_400_saying_it_expired_and_a_never_issued_one_is_400_not_found()
    {
        await using var cluster = await StartAsync("tree-expiry", silos: 1, gateways: 1,
            "--CodexLb:State:Retention", "00:00:02", "--CodexLb:State:ExpiredMemory", "00:10:00");
        var http = cluster.CreateClient(cluster.Gateways[0]);
        var turn = await PostAsync(http, Items.Body([Items.Message("user", "short lived")], stream: false));
        var id = Rx.ResponseIdOf(turn)!;
        var alive = await PostAsync(http, Items.Body([Items.Message("user", "still here")], stream: false, previousResponseId: id));

        // Retention 2 s plus its refresh slack (a tenth): gone after 3 s without use. Another gateway has no cache.
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        var fresh = cluster.CreateClient(cluster.Silos[0]);
        var expired = await SseClient.PostAsync(fresh, Path, Items.Body([Items.Message("user", "again")], stream: false, previousResponseId: Rx.ResponseIdOf(alive)));
        Assert.Equal(HttpStatusCode.BadRequest, expired.Status);
        Assert.Equal("previous_response_not_found", expired.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("expired", expired.Json.GetProperty("error").GetProperty("message").GetString());

        var never = await SseClient.PostAsync(fresh, Path, Items.Body([Items.Message("user", "x")], stream: false, previousResponseId: "resp_never_issued_here"));
        Assert.Equal(HttpStatusCode.BadRequest, never.Status);
        Assert.DoesNotContain("expired", never.Json.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_stale_owner_resumed_after_its_death_changes_nothing_the_new_owner_relies_on()
    {
        await using var cluster = await StartAsync("tree-stale", silos: 2, gateways: 1);
        var http = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var first = await PostAsync(http, Items.Body([Items.Message("developer", "sys " + new string('s', 2000)), Items.Message("user", "q1")], stream: false));
        var owner = await cluster.OwnerOfOnlyConversationAsync();
        var survivor = cluster.Silos.Single(s => s != owner);
        output.WriteLine($"owner {owner.Name}, survivor {survivor.Name}");

        // The owner freezes while the provider is still thinking about turn 2, past its death declaration.
        var marker = "stale-" + Guid.NewGuid().ToString("N")[..8];
        await cluster.Sim.AddFaultAsync(Fault.Delay(TimeSpan.FromSeconds(3), TimeSpan.Zero).WhenTextContains(marker).Times(1));
        var turn2 = SseClient.PostAsync(http, Path, Items.Body([Items.Message("user", "q2 " + marker)], stream: false, previousResponseId: Rx.ResponseIdOf(first)));
        await Task.Delay(500);
        await owner.PauseAsync();
        var second = await turn2; // rebound to the survivor once the owner was declared dead
        Assert.True(Rx.IsCompleted(second), Rx.Describe(second));
        await Task.Delay(TimeSpan.FromSeconds(1));

        // What the new owner relies on: the conversation's head (epoch, last response, turns) and the tree's keys.
        using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.RedisConnectionString + ",allowAdmin=true");
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var headKey = Assert.Single(await KeysAsync(server, "codexlb:*:head:*"));
        var headBefore = await HeadAsync(redis, headKey);
        var keysBefore = await KeysAsync(server, "codexlb:*");
        await owner.ResumeAsync(); // the stale activation's own turn 2 completes upstream now, and tries to persist
        await Task.Delay(TimeSpan.FromSeconds(3));

        // The stale activation did try to write, and the fence refused it (its log says so before the silo stopped itself).
        var log = owner.Tail(3000);
        var resumed = log.LastIndexOf("==== SIGCONT", StringComparison.Ordinal);
        Assert.True(resumed >= 0 && log.IndexOf("a newer activation owns it; this one stops", resumed, StringComparison.Ordinal) > resumed,
            "after SIGCONT the stale owner logged no refused (fenced) write: either the fence let it through or it never tried, and then this test proves nothing\n" + owner.Tail(40));
        Assert.Equal(headBefore, await HeadAsync(redis, headKey));
        // Client keys' usage ledger is flushed on its own schedule (a day's hash per key may appear any time): not tree state.
        var added = (await KeysAsync(server, "codexlb:*")).Except(keysBefore).Where(k => !k.Contains(":usage:", StringComparison.Ordinal)).ToList();
        output.WriteLine($"head {headKey} = {headBefore}, unchanged; keys the stale owner added: {string.Join(", ", added)}");
        // Only a pending marker for its own response id (routable, never a node, index entry, tombstone or head change).
        Assert.All(added, k => Assert.Contains(":w:resp_", k));

        var q3 = Items.Message("user", "q3");
        var third = await PostAsync(http, Items.Body([q3], stream: false, previousResponseId: Rx.ResponseIdOf(second)));
        var requests = await cluster.Sim.GetRequestsAsync();
        foreach (var r in requests) output.WriteLine(LedgerText.Line(r));
        var (u2, u3) = (requests.Single(r => r.ResponseId == Rx.ResponseIdOf(second)), requests.Single(r => r.ResponseId == Rx.ResponseIdOf(third)));
        // Turn 3's context is exactly turn 2's context and output plus q3: nothing of the stale turn leaked in.
        Assert.Equal(u2.ContextTokens + u2.OutputTokens + TokenCounter.Count(q3.ToJsonString()), u3.ContextTokens);

        // The stale owner's own generation of turn 2 (on its socket, after turn 1) completed upstream but was never
        // written to the tree: it was started (its pending marker) and never completed, so continuing it is the retryable
        // 409, never a success. (Generations of the same turn on the new owner are the rebind's duplicates, a separate
        // problem; they are real forks there.)
        var staleConnection = requests.Single(r => r.ResponseId == Rx.ResponseIdOf(first)).ConnectionId;
        var staleTurns = requests.Where(r => r.ConnectionId == staleConnection && r.ResponseId is not null && r.ResponseId != Rx.ResponseIdOf(first)).ToList();
        Assert.NotEmpty(staleTurns);
        foreach (var stale in staleTurns)
        {
            var probe = await SseClient.PostAsync(http, Path, Items.Body([Items.Message("user", "probe")], stream: false, previousResponseId: stale.ResponseId));
            output.WriteLine($"stale response {stale.ResponseId} ({stale.Outcome}): continuing it answers {(int)probe.Status}");
            AssertIncomplete(probe);
        }
        output.WriteLine(owner.Tail(20));
    }

    [Fact]
    public async Task A_response_whose_turn_failed_is_a_retryable_409_through_any_gateway_never_a_400()
    {
        await using var cluster = await StartAsync("tree-failed", silos: 1, gateways: 2);
        var (gw1, gw2) = (cluster.CreateClient(cluster.Gateways[0]), cluster.CreateClient(cluster.Gateways[1]));
        var first = await PostAsync(gw1, Items.Body([Items.Message("developer", "sys"), Items.Message("user", "q1")], stream: false));
        var marker = Rx.Marker("failed");
        await cluster.Sim.AddFaultAsync(Fault.Failed().WhenTextContains(marker));
        var failed = await SseClient.PostAsync(gw1, Path, Items.Body([Items.Message("user", "q2 " + marker)], previousResponseId: Rx.ResponseIdOf(first)));
        Assert.Equal("response.created", failed.Events[0].Type);
        Assert.Equal("response.failed", failed.Terminal?.Type);
        var failedId = failed.Events[0].Data.GetProperty("response").GetProperty("id").GetString()!;

        // gw2 never saw the id (one store read: its pending marker); gw1 cached it at response.created.
        var upstreamBefore = (await cluster.Sim.GetRequestsAsync()).Count;
        foreach (var gateway in new[] { gw2, gw1 })
        {
            var chained = await SseClient.PostAsync(gateway, Path, Items.Body([Items.Message("user", "q3")], stream: false, previousResponseId: failedId));
            AssertIncomplete(chained);
        }
        Assert.Equal(upstreamBefore, (await cluster.Sim.GetRequestsAsync()).Count); // nothing went upstream

        // The client goes on from the response before it.
        await PostAsync(gw2, Items.Body([Items.Message("user", "q2 again")], stream: false, previousResponseId: Rx.ResponseIdOf(first)));
    }

    [Fact]
    public async Task Kill_9_of_the_owner_during_the_persist_step_never_yields_a_wrong_context_and_every_id_the_client_holds_resumes()
    {
        await using var cluster = await StartAsync("tree-persist-kill", silos: 2, gateways: 2);
        var (gw1, gw2) = (cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90)), cluster.CreateClient(cluster.Gateways[1], TimeSpan.FromSeconds(90)));
        using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.RedisConnectionString + ",allowAdmin=true");
        var server = redis.GetServer(redis.GetEndPoints()[0]);

        var (system, q1) = (Items.Message("developer", "sys " + new string('s', 500)), Items.Message("user", "q1"));
        var first = await PostAsync(gw1, Items.Body([system, q1], stream: false));
        var owner = await cluster.OwnerOfOnlyConversationAsync();

        // Turn 2 streams slowly (18 events 500 ms apart); its 16 KB of random text (which the store's compression cannot
        // shrink below 8 KB) makes its node's write recognisable in CLIENT LIST.
        var marker = Rx.Marker("persist");
        await cluster.Sim.AddFaultAsync((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(500)) with { TextDeltas = 10 }).WhenTextContains(marker).Times(1));
        var q2 = Items.Message("user", "q2 " + marker + " " + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12_000)));
        JsonObject Turn2() => Items.Body([q2.DeepClone()], previousResponseId: Rx.ResponseIdOf(first));
        var turn = LiveTurn.Start(gw1, Turn2().ToJsonString(), new Dictionary<string, string>());
        await turn.WaitUntilAsync(t => t.Events.Count >= 1, TimeSpan.FromSeconds(30));
        Assert.Equal("response.created", turn.Events[0].Type);
        var killedId = turn.Events[0].ResponseId!;
        await WaitAsync(async () => (await KeysAsync(server, $"codexlb:*:w:{killedId}")).Count == 1, "the pending marker");
        // Past the key usage flush of the turn's admission (gateway batch, then the key grain, a second each): a write
        // transaction held by the pause would keep the node's write in the client, where CLIENT LIST cannot see it.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(turn.Events, e => e.Type == "response.completed");

        // The persist step, made slow and observable: Redis holds every write while the provider completes the turn, so
        // the owner's write of the node (a script carrying more than 8 KB) waits in Redis; the owner dies there.
        await server.ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
        try
        {
            await cluster.Sim.WaitUntilAsync(l => l.Requests.Any(r => r.ResponseId == killedId && r.Outcome == RequestOutcome.Completed), TimeSpan.FromSeconds(30));
            string? blocked = null;
            await WaitAsync(async () => (blocked = (await ClientListAsync(server)).FirstOrDefault(c => c.GetValueOrDefault("name") == owner.Name
                && c["flags"].Contains('b') && c["cmd"] is "evalsha" or "eval" && long.Parse(c["argv-mem"], CultureInfo.InvariantCulture) > 8000)?["addr"]) is not null,
                "the owner's node write waiting in Redis", async () => string.Join("\n", (await ClientListAsync(server)).Select(c => string.Join(' ', c.Select(kv => kv.Key + "=" + kv.Value)))));
            output.WriteLine($"{owner.Name}'s node write waits in Redis (client {blocked}); killing it");
            Assert.DoesNotContain(turn.Events, e => e.Type == "response.completed");
            await owner.KillAsync();
        }
        finally
        {
            await server.ExecuteAsync("CLIENT", "UNPAUSE");
        }
        await turn.Completion.WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"killed turn: {turn.Describe()}; its node written: {(await KeysAsync(server, $"codexlb:*:n:{killedId}")).Count == 1}");
        Assert.False(turn.IsCompleted);

        // The client retries the turn, then goes on; the id it saw in response.created is a retryable 409 through any gateway.
        var retry = await PostAsync(gw1, Turn2());
        AssertIncomplete(await SseClient.PostAsync(gw2, Path, Items.Body([Items.Message("user", "on the lost one")], stream: false, previousResponseId: killedId)));
        var q3 = Items.Message("user", "q3");
        var third = await PostAsync(gw2, Items.Body([q3], stream: false, previousResponseId: Rx.ResponseIdOf(retry)));

        // Every id the client holds resumes, through either gateway.
        (string Id, int Answers)[] held = [(Rx.ResponseIdOf(first)!, 1), (Rx.ResponseIdOf(retry)!, 2), (Rx.ResponseIdOf(third)!, 3)];
        var probes = new List<(string Of, TurnResult Probe, JsonNode Input, int Answers)>();
        foreach (var (id, answers) in held)
        {
            var input = Items.Message("user", "probe " + id);
            probes.Add((id, await PostAsync(probes.Count % 2 == 0 ? gw2 : gw1, Items.Body([input], stream: false, previousResponseId: id)), input, answers));
        }

        // The ledger: each request's context is exactly its conversation (tokens: every item once), and the model saw every
        // earlier answer once ("Simulated answer #k", k = 1 + the answers in its context).
        var requests = await cluster.Sim.GetRequestsAsync();
        foreach (var r in requests) output.WriteLine(LedgerText.Line(r) + $" out={r.OutputTokens}");
        RequestRecord Of(TurnResult t) => requests.Single(r => r.ResponseId == Rx.ResponseIdOf(t));
        var (u1, u2, u3) = (Of(first), Of(retry), Of(third));
        Assert.Equal(u1.ContextTokens + u1.OutputTokens + Tokens(q2), u2.ContextTokens);
        if (!u2.IsDelta) Assert.Equal(4, u2.InputItemCount); // system, q1, answer 1, q2
        Assert.Equal(u2.ContextTokens + u2.OutputTokens + Tokens(q3), u3.ContextTokens);
        Assert.Equal("Simulated answer #2.", AnswerOf(retry));
        Assert.Equal("Simulated answer #3.", AnswerOf(third));
        foreach (var (of, probe, input, answers) in probes)
        {
            var (parent, sent) = (requests.Single(r => r.ResponseId == of), Of(probe));
            Assert.Equal(parent.ContextTokens + parent.OutputTokens + Tokens(input), sent.ContextTokens);
            Assert.Equal($"Simulated answer #{answers + 1}.", AnswerOf(probe));
        }
    }

    private static int Tokens(JsonNode item) => TokenCounter.Count(item.ToJsonString());

    private static string? AnswerOf(TurnResult turn) =>
        Rx.OutputsOf(turn).Where(o => o.GetProperty("type").GetString() == "message")
            .Select(o => o.GetProperty("content")[0].GetProperty("text").GetString()).SingleOrDefault();

    /// <summary>409 previous_response_incomplete with Retry-After: retryable, never a 400.</summary>
    private static void AssertIncomplete(TurnResult result)
    {
        Assert.True(result.Status == HttpStatusCode.Conflict, Rx.Describe(result));
        var error = result.Json.GetProperty("error");
        Assert.Equal("previous_response_incomplete", error.GetProperty("code").GetString());
        Assert.Equal("previous_response_id", error.GetProperty("param").GetString());
        Assert.NotNull(result.Headers.RetryAfter);
    }

    private static async Task<List<string>> KeysAsync(IServer server, string pattern)
    {
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: pattern)) keys.Add(key.ToString());
        return keys;
    }

    private static async Task<string> HeadAsync(ConnectionMultiplexer redis, string key) =>
        string.Join(",", (await redis.GetDatabase().HashGetAllAsync(key)).OrderBy(e => e.Name.ToString(), StringComparer.Ordinal).Select(e => $"{e.Name}={e.Value}"));

    /// <summary>CLIENT LIST, one field map per connection.</summary>
    private static async Task<List<Dictionary<string, string>>> ClientListAsync(IServer server) =>
        ((string)(await server.ExecuteAsync("CLIENT", "LIST"))!)
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(line => line.Split(' ').Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]))
        .ToList();

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, Func<Task<string>>? describe = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within 30 s: {what}{(describe is null ? "" : "\n" + await describe())}");
            await Task.Delay(50);
        }
    }
}
