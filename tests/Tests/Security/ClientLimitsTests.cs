using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Security;

/// <summary>The embedded product with small limits, so each one can be reached in a test.</summary>
public sealed class LimitedProductFixture : ProductFixture
{
    public const int NewConversationsPerMinute = 4;

    /// <summary>Tenants of their own for the tests that spend the rate of new conversations (a window of a minute).</summary>
    public static readonly string[] Tenants =
        ["session_id", "session-id", "x-codex-session-id", "thread-id", "x-codex-turn-state", "prompt_cache_key", "websocket", "existing", "lru", "unaffected"];

    public static string KeyOf(string tenant) => "sk-limits-" + tenant;

    protected override IEnumerable<string> ExtraArgs =>
    [
        "--CodexLb:Limits:ConcurrentTurnsPerTenant", "2",
        "--CodexLb:Limits:WebSocketsPerTenant", "2",
        "--CodexLb:Limits:WebSockets", "3",
        "--CodexLb:Limits:NewConversationsPerMinute", NewConversationsPerMinute.ToString(),
        "--CodexLb:Upstream:MaxSocketsPerSilo", "3",
        .. Tenants.SelectMany((tenant, i) => new[] { $"--CodexLb:Gateway:ApiKeys:{i + 2}", KeyOf(tenant) }),
    ];
}

/// <summary>
/// Per-tenant and per-process bounds: concurrent turns, open websockets, new conversations, upstream sockets. Each is
/// enforced with a clear, retryable, OpenAI-shaped error, and one tenant reaching its bound does not affect another.
/// Tests in this class share one product, so each uses its own tenant where a bound is per tenant.
/// </summary>
public sealed class ClientLimitsTests(LimitedProductFixture product) : IClassFixture<LimitedProductFixture>
{
    private HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = product.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    private static void AssertOpenAIError(TurnResult result, HttpStatusCode status, string code)
    {
        Assert.Equal(status, result.Status);
        var error = result.Json.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.True(result.Headers.RetryAfter is not null, "no Retry-After");
    }

    private string SlowMarker()
    {
        var marker = "slow-" + Guid.NewGuid().ToString("N")[..10];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(5), TimeSpan.Zero).WhenTextContains(marker).Forever());
        return marker;
    }

    [Fact]
    public async Task A_tenants_third_concurrent_turn_is_429_and_another_tenant_is_not_affected()
    {
        using var tenant = Client(ProductFixture.ApiKey);
        var marker = SlowMarker();
        var running = Enumerable.Range(0, 2).Select(i => SseClient.PostAsync(tenant, "/v1/responses",
            Items.Body([Items.Message("user", $"{marker} {i}")], stream: false), Items.Session(Guid.NewGuid().ToString()))).ToList();
        await Task.Delay(500);
        var third = await SseClient.PostAsync(tenant, "/v1/responses", Items.Body([Items.Message("user", "third")], stream: false), Items.Session(Guid.NewGuid().ToString()));
        AssertOpenAIError(third, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        // A background response streamed again holds a permit as a turn does; a plain retrieve (a poll) takes none.
        AssertOpenAIError(await SseClient.GetAsync(tenant, "/v1/responses/resp_not_issued?stream=true"), HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Equal(HttpStatusCode.NotFound, (await SseClient.GetAsync(tenant, "/v1/responses/resp_not_issued")).Status);
        // Forwards to the provider (input token counting, compaction) are bounded with the tenant's turns.
        foreach (var operation in new[] { "input_tokens", "compact" })
        {
            var forward = await SseClient.PostAsync(tenant, "/v1/responses/" + operation, new JsonObject { ["model"] = "gpt-5.5", ["input"] = "hi" });
            AssertOpenAIError(forward, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        }

        using var other = Client(LimitedProductFixture.KeyOf("unaffected"));
        var unaffected = await SseClient.PostAsync(other, "/v1/responses", Items.Body([Items.Message("user", "other tenant")], stream: false), Items.Session(Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.OK, unaffected.Status);
        foreach (var turn in running) Assert.Equal(HttpStatusCode.OK, (await turn).Status);
    }

    [Fact]
    public async Task Open_websockets_are_bounded_per_tenant_429_and_per_gateway_503()
    {
        var sockets = new List<ClientWebSocket>();
        async Task<HttpStatusCode?> Open(string key)
        {
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", "Bearer " + key);
            socket.Options.CollectHttpResponseDetails = true;
            try
            {
                await socket.ConnectAsync(new UriBuilder(product.BaseUrl) { Scheme = "ws", Path = "/v1/responses" }.Uri, CancellationToken.None);
                sockets.Add(socket);
                return null;
            }
            catch (WebSocketException)
            {
                return socket.HttpStatusCode;
            }
        }

        try
        {
            Assert.Null(await Open(ProductFixture.ApiKey));
            Assert.Null(await Open(ProductFixture.ApiKey));
            Assert.Equal(HttpStatusCode.TooManyRequests, await Open(ProductFixture.ApiKey)); // the tenant's 2
            Assert.Null(await Open(ProductFixture.SecondApiKey));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await Open(ProductFixture.SecondApiKey)); // the gateway's 3

            // A closed socket gives its permit back.
            await sockets[0].CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            await Task.Delay(300);
            Assert.Null(await Open(ProductFixture.SecondApiKey));
        }
        finally
        {
            foreach (var socket in sockets) socket.Abort();
        }
    }

    [Fact]
    public async Task New_conversations_past_the_rate_are_429_while_existing_ones_continue()
    {
        // A tenant of its own (open keys are not allowed here, so the second key is this test's alone within the class).
        using var client = Client(ProductFixture.SecondApiKey);
        var first = await SseClient.PostAsync(client, "/v1/responses", Items.Body([Items.Message("user", "keyless " + Guid.NewGuid())], stream: false));
        Assert.Equal(HttpStatusCode.OK, first.Status);
        TurnResult? refused = null;
        for (var i = 0; i < 8 && refused is null; i++)
        {
            var next = await SseClient.PostAsync(client, "/v1/responses", Items.Body([Items.Message("user", $"new {i} {Guid.NewGuid()}")], stream: false));
            if (next.Status != HttpStatusCode.OK) refused = next;
        }
        Assert.NotNull(refused);
        AssertOpenAIError(refused!, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");

        // Continuing a conversation creates none: still allowed.
        var continued = await SseClient.PostAsync(client, "/v1/responses",
            Items.Body([Items.Message("user", "more")], stream: false, previousResponseId: first.Json.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.OK, continued.Status);
    }

    /// <summary>
    /// Issue 10, finding 6: a session key the client makes up is a new conversation (a grain and an upstream socket) as
    /// much as a turn without one, so a fresh key on every request spends the tenant's rate like anything new.
    /// </summary>
    [Theory]
    [InlineData("session_id")]
    [InlineData("session-id")]
    [InlineData("x-codex-session-id")]
    [InlineData("thread-id")]
    [InlineData("x-codex-turn-state")]
    [InlineData("prompt_cache_key")]
    public async Task A_fresh_session_key_on_every_request_spends_the_rate_of_new_conversations(string via)
    {
        using var client = Client(LimitedProductFixture.KeyOf(via));
        string? tenant = null;
        var answers = new List<TurnResult>();
        for (var i = 0; i < LimitedProductFixture.NewConversationsPerMinute + 2; i++)
        {
            var fresh = Guid.NewGuid().ToString("N");
            var headers = new Dictionary<string, string>();
            if (via == "x-codex-turn-state")
            {
                // A forged turn state only needs the tenant's prefix, which any answer tells (the first turn has none).
                if (tenant is not null) headers[via] = $"{tenant}/forged/{fresh}";
            }
            else if (via != "prompt_cache_key") headers[via] = fresh;
            var body = Items.Body([Items.Message("user", $"fresh {via} {i} {fresh}")], stream: false, cacheKey: via == "prompt_cache_key" ? fresh : null);
            var answer = await SseClient.PostAsync(client, "/v1/responses", body, headers);
            tenant ??= answer.TurnState is { } state ? ConversationKey.TenantOf(state) : null;
            answers.Add(answer);
        }
        Assert.Equal(LimitedProductFixture.NewConversationsPerMinute, answers.Count(a => a.Status == HttpStatusCode.OK));
        AssertOpenAIError(answers.Last(), HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
    }

    [Fact]
    public async Task A_new_websocket_per_turn_spends_the_rate_of_new_conversations()
    {
        var answers = new List<JsonElement>();
        for (var i = 0; i < LimitedProductFixture.NewConversationsPerMinute + 2; i++)
        {
            await using (var ws = await WsClient.ConnectAsync(product.BaseUrl, LimitedProductFixture.KeyOf("websocket")))
                answers.Add((await ws.TurnAsync(Items.Body([Items.Message("user", $"socket {i} {Guid.NewGuid()}")])))[^1]);
            await Task.Delay(200); // the closed socket gives its permit back (2 per tenant)
        }
        Assert.Equal(LimitedProductFixture.NewConversationsPerMinute, answers.Count(e => e.Type() == "response.completed"));
        var refused = answers[^1];
        Assert.Equal("error", refused.Type());
        Assert.Equal(429, refused.GetProperty("status").GetInt32());
        Assert.Equal("rate_limit_exceeded", refused.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_existing_conversation_continues_when_the_rate_of_new_ones_is_spent()
    {
        using var client = Client(LimitedProductFixture.KeyOf("existing"));
        var session = Items.Session(Guid.NewGuid().ToString());
        List<JsonNode> history = [Items.Message("user", "existing " + Guid.NewGuid())];
        var first = await SseClient.PostAsync(client, "/v1/responses", Items.Body(history), session);
        Assert.Equal("response.completed", first.Terminal!.Type);
        history.AddRange(first.OutputItems.Select(o => o.ToNode()));

        // A conversation this gateway never routed to (as if another gateway had started it): only the tree knows it.
        var elsewhere = $"{ConversationKey.TenantOf(first.TurnState!)}/forged/{Guid.NewGuid():N}";
        await product.Grains.GetGrain<IConversationGrain>(elsewhere).GetStats();

        TurnResult? refused = null;
        for (var i = 0; i < LimitedProductFixture.NewConversationsPerMinute + 1 && refused is null; i++)
        {
            var next = await SseClient.PostAsync(client, "/v1/responses", Items.Body([Items.Message("user", $"new {i}")], stream: false),
                Items.Session(Guid.NewGuid().ToString()));
            if (next.Status != HttpStatusCode.OK) refused = next;
        }
        Assert.NotNull(refused);
        AssertOpenAIError(refused!, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");

        history.Add(Items.Message("user", "still there?"));
        var again = await SseClient.PostAsync(client, "/v1/responses", Items.Body(history), session);
        Assert.Equal("response.completed", again.Terminal!.Type);
        Assert.Equal(first.TurnState, again.TurnState); // the same conversation (its socket made room for the new ones: a full resend)

        var named = await SseClient.PostAsync(client, "/v1/responses", Items.Body([Items.Message("user", "to the one started elsewhere")], stream: false),
            new Dictionary<string, string> { [TurnStateHeader] = elsewhere });
        Assert.Equal(HttpStatusCode.OK, named.Status);
    }

    private const string TurnStateHeader = "x-codex-turn-state";

    /// <summary>
    /// At the silo's socket bound (3) the idle socket used least recently is the one closed, not any idle one: a
    /// conversation touched after the others keeps its socket. Every conversation continues; an evicted one resends in full.
    /// </summary>
    [Fact]
    public async Task At_the_silos_socket_bound_the_least_recently_used_idle_socket_makes_room_and_its_conversation_continues()
    {
        using var client = Client(LimitedProductFixture.KeyOf("lru"));
        var ledger = product.Simulator.Ledger;
        var conversations = new Dictionary<string, (Dictionary<string, string> Session, List<JsonNode> History, long? Connection)>();
        async Task<TurnResult> TurnAsync(string name, string text)
        {
            if (!conversations.TryGetValue(name, out var c))
                conversations[name] = c = (Items.Session(Guid.NewGuid().ToString()), [], null);
            c.History.Add(Items.Message("user", $"{text} {Guid.NewGuid()}"));
            var turn = await SseClient.PostAsync(client, "/v1/responses", Items.Body(c.History), c.Session);
            Assert.Equal("response.completed", turn.Terminal!.Type);
            c.History.AddRange(turn.OutputItems.Select(o => o.ToNode()));
            conversations[name] = c with { Connection = ledger.Requests.Single(r => r.ResponseId == turn.ResponseId).ConnectionId };
            return turn;
        }
        bool IsOpen(string name) => ledger.Connections.Single(x => x.Id == conversations[name].Connection).EndedBy == ConnectionEnd.Open;
        // Evicted with a close frame (the provider sees a close, not a reset).
        async Task AssertEvictedAsync(string name)
        {
            var ended = await ledger.WaitUntilAsync(l => l.Connections.Single(x => x.Id == conversations[name].Connection).EndedBy != ConnectionEnd.Open,
                TimeSpan.FromSeconds(30));
            Assert.Equal(ConnectionEnd.ClientClosed, ended.Connections.Single(x => x.Id == conversations[name].Connection).EndedBy);
        }

        // A, B, C fill the bound (older sockets of this class make room); then A is used again, so B is the least recent.
        await TurnAsync("A", "hello");
        await TurnAsync("B", "hello");
        await TurnAsync("C", "hello");
        var reused = await TurnAsync("A", "again");
        Assert.True(ledger.Requests.Single(r => r.ResponseId == reused.ResponseId).IsDelta);

        await TurnAsync("D", "hello"); // a fourth socket: B's goes
        await AssertEvictedAsync("B");
        Assert.True(IsOpen("A") && IsOpen("C") && IsOpen("D"), "a socket other than the least recently used one was closed");

        // B continues: it reconnects and resends its context once, and C (now the least recent) makes room.
        var evicted = conversations["B"].Connection;
        var resumed = await TurnAsync("B", "still there?");
        var upstream = ledger.Requests.Single(r => r.ResponseId == resumed.ResponseId);
        Assert.NotEqual(evicted, upstream.ConnectionId);
        Assert.False(upstream.IsDelta);
        await AssertEvictedAsync("C");
        Assert.True(IsOpen("A") && IsOpen("D") && IsOpen("B"), "a socket other than the least recently used one was closed");
        Assert.True(ledger.Connections.Count(c => c.EndedBy == ConnectionEnd.Open) <= 3, "the silo holds more upstream sockets than its bound");
    }
}

/// <summary>The embedded product with room for one upstream socket.</summary>
public sealed class SingleSocketProductFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Upstream:MaxSocketsPerSilo", "1"];
}

/// <summary>The silo's socket bound when no socket is idle: nothing can make room, so a new turn is refused retryably.</summary>
public sealed class UpstreamSocketBoundTests(SingleSocketProductFixture product) : IClassFixture<SingleSocketProductFixture>
{
    [Fact]
    public async Task With_every_socket_in_a_turn_a_new_conversation_is_503_bridge_capacity_and_runs_once_one_is_idle()
    {
        var marker = "slow-" + Guid.NewGuid().ToString("N")[..10];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(4), TimeSpan.Zero).WhenTextContains(marker));
        var slow = SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", marker)], stream: false),
            Items.Session(Guid.NewGuid().ToString()));
        await product.Simulator.Ledger.WaitUntilAsync(l => l.Requests.Count > 0, TimeSpan.FromSeconds(30)); // its socket is up and in the turn

        var other = Items.Session(Guid.NewGuid().ToString());
        var body = Items.Body([Items.Message("user", "another conversation")], stream: false);
        var refused = await SseClient.PostAsync(product.Http, "/v1/responses", body, other);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        var error = refused.Json.GetProperty("error");
        Assert.Equal("bridge_capacity", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.True(refused.Headers.RetryAfter is not null, "no Retry-After");
        Assert.False(slow.IsCompleted, "the slow turn ended before the second one was refused: nothing was busy");
        // Refused, not made room for: the busy socket is the only one the provider ever saw, and it is still open.
        var busy = Assert.Single(product.Simulator.Ledger.Connections);
        Assert.Equal(ConnectionEnd.Open, busy.EndedBy);

        var finished = await slow;
        Assert.Equal(HttpStatusCode.OK, finished.Status);
        Assert.Equal(busy.Id, product.Simulator.Ledger.Requests.Single(r => r.ResponseId == finished.Json.GetProperty("id").GetString()).ConnectionId);
        // The slow turn's socket is idle now (a moment after its answer), and makes room: the client's retry runs.
        var retried = await SseClient.PostAsync(product.Http, "/v1/responses", body, other);
        for (var attempt = 0; retried.Status == HttpStatusCode.ServiceUnavailable && attempt < 10; attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1)); // its Retry-After
            retried = await SseClient.PostAsync(product.Http, "/v1/responses", body, other);
        }
        Assert.Equal(HttpStatusCode.OK, retried.Status);
    }
}
