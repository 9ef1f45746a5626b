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
/// and websockets, keyless clients are found by content across gateways, every key expires, an expired id says so, and a
/// stale owner (SIGSTOP past its death, then SIGCONT) changes nothing the new owner relies on.
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
        await owner.ResumeAsync(); // the stale activation's own turn 2 completes upstream now, and tries to persist
        await Task.Delay(TimeSpan.FromSeconds(3));

        var q3 = Items.Message("user", "q3");
        var third = await PostAsync(http, Items.Body([q3], stream: false, previousResponseId: Rx.ResponseIdOf(second)));
        var requests = await cluster.Sim.GetRequestsAsync();
        foreach (var r in requests) output.WriteLine(SimulatorControlClient.Describe(r));
        var (u2, u3) = (requests.Single(r => r.ResponseId == Rx.ResponseIdOf(second)), requests.Single(r => r.ResponseId == Rx.ResponseIdOf(third)));
        // Turn 3's context is exactly turn 2's context and output plus q3: nothing of the stale turn leaked in.
        Assert.Equal(u2.ContextTokens + u2.OutputTokens + TokenCounter.Count(q3.ToJsonString()), u3.ContextTokens);

        // The stale owner's own generation of turn 2 (on its socket, after turn 1) completed upstream but was never
        // written to the tree: continuing it is "not found". (Generations of the same turn on the new owner are the
        // rebind's duplicates, a separate problem; they are real forks there.)
        var staleConnection = requests.Single(r => r.ResponseId == Rx.ResponseIdOf(first)).ConnectionId;
        var staleTurns = requests.Where(r => r.ConnectionId == staleConnection && r.ResponseId is not null && r.ResponseId != Rx.ResponseIdOf(first)).ToList();
        Assert.NotEmpty(staleTurns);
        foreach (var stale in staleTurns)
        {
            var probe = await SseClient.PostAsync(http, Path, Items.Body([Items.Message("user", "probe")], stream: false, previousResponseId: stale.ResponseId));
            output.WriteLine($"stale response {stale.ResponseId} ({stale.Outcome}): continuing it answers {(int)probe.Status}");
            Assert.Equal(HttpStatusCode.BadRequest, probe.Status);
        }
        output.WriteLine(owner.Tail(20));
    }
}
