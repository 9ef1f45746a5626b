using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Security;

/// <summary>The embedded product with small limits, so each one can be reached in a test.</summary>
public sealed class LimitedProductFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs =>
    [
        "--CodexLb:Limits:ConcurrentTurnsPerTenant", "2",
        "--CodexLb:Limits:WebSocketsPerTenant", "2",
        "--CodexLb:Limits:WebSockets", "3",
        "--CodexLb:Limits:NewConversationsPerMinute", "4",
        "--CodexLb:Upstream:MaxSocketsPerSilo", "3",
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
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(2), TimeSpan.Zero).WhenTextContains(marker).Forever());
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

        using var other = Client(ProductFixture.SecondApiKey);
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

    [Fact]
    public async Task At_the_silos_socket_bound_the_longest_idle_sockets_make_room_and_their_conversations_continue()
    {
        using var client = Client(ProductFixture.ApiKey);
        var sessions = Enumerable.Range(0, 5).Select(_ => Items.Session(Guid.NewGuid().ToString())).ToList();
        var histories = sessions.Select(_ => new List<JsonNode> { Items.Message("user", "hello " + Guid.NewGuid()) }).ToList();
        var connections = new long?[sessions.Count];
        for (var i = 0; i < sessions.Count; i++)
        {
            var turn = await SseClient.PostAsync(client, "/v1/responses", Items.Body(histories[i]), sessions[i]);
            Assert.Equal("response.completed", turn.Terminal!.Type); // past the bound (3), an idle socket made room
            histories[i].AddRange(turn.OutputItems.Select(o => o.ToNode()));
            connections[i] = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == turn.ResponseId).ConnectionId;
        }
        await Task.Delay(300);
        Assert.True(product.Simulator.Ledger.Connections.Count(c => c.EndedBy == ConnectionEnd.Open) <= 3, "the silo holds more upstream sockets than its bound");

        // Every conversation continues; those whose socket was evicted reconnect and resend their context once.
        var reconnected = 0;
        for (var i = 0; i < sessions.Count; i++)
        {
            histories[i].Add(Items.Message("user", "still there?"));
            var again = await SseClient.PostAsync(client, "/v1/responses", Items.Body(histories[i]), sessions[i]);
            Assert.Equal("response.completed", again.Terminal!.Type);
            var upstream = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == again.ResponseId);
            if (upstream.ConnectionId != connections[i]) { reconnected++; Assert.False(upstream.IsDelta); }
        }
        Assert.True(reconnected >= 2, $"{reconnected} conversations reconnected; five conversations on a bound of three must evict");
    }
}
