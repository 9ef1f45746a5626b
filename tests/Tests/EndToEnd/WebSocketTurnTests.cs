using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.EndToEnd;

[Collection(ProductCollection.Name)]
public sealed class WebSocketTurnTests(ProductFixture product)
{
    private RequestRecord Upstream(string responseId) => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);

    [Fact]
    public async Task A_generate_false_prewarm_chains_into_delta_turns()
    {
        await using var ws = await WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey, Items.Session(Guid.NewGuid().ToString()));
        var prewarmBody = Items.Body([Items.Message("developer", "system prompt " + new string('s', 2000))]);
        prewarmBody["generate"] = false;
        var prewarm = await ws.TurnAsync(prewarmBody);
        Assert.Equal(["response.created", "response.completed"], prewarm.Select(e => e.Type()));

        var turn = await ws.TurnAsync(Items.Body([Items.Message("user", "hello")], previousResponseId: prewarm.ResponseId()));
        Assert.Equal("response.completed", turn[^1].Type());
        var upstream = Upstream(turn.ResponseId());
        Assert.True(upstream.IsDelta);
        Assert.Equal(prewarm.ResponseId(), upstream.PreviousResponseId);
        Assert.True(Upstream(prewarm.ResponseId()) is { Generate: false });
    }

    [Fact]
    public async Task Delta_frames_continue_across_an_upstream_socket_loss_and_a_grain_reactivation()
    {
        await using var ws = await WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey, Items.Session(Guid.NewGuid().ToString()));
        var marker = "drop-after-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.CloseBetweenTurns().WhenTextContains(marker));
        var first = await ws.TurnAsync(Items.Body([Items.Message("developer", "sys"), Items.Message("user", marker)]));
        Assert.Equal("response.completed", first[^1].Type());

        // The provider closed the socket after turn 1: turn 2 still sends only its new item.
        var second = await ws.TurnAsync(Items.Body([Items.Message("user", "after the loss")], previousResponseId: first.ResponseId()));
        Assert.Equal("response.completed", second[^1].Type());
        var resent = Upstream(second.ResponseId());
        Assert.False(resent.IsDelta);
        Assert.Equal(4, resent.InputItemCount); // sys, marker, answer, new item: rebuilt by the grain, once

        // Every grain is deactivated; the conversation comes back from storage.
        await product.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var third = await ws.TurnAsync(Items.Body([Items.Message("user", "after reactivation")], previousResponseId: second.ResponseId()));
        Assert.Equal("response.completed", third[^1].Type());
        Assert.Equal(6, Upstream(third.ResponseId()).InputItemCount);

        var fourth = await ws.TurnAsync(Items.Body([Items.Message("user", "steady again")], previousResponseId: third.ResponseId()));
        Assert.True(Upstream(fourth.ResponseId()).IsDelta);
    }

    [Fact]
    public async Task A_session_deeper_than_a_grains_node_cache_continues_after_every_grain_is_deactivated()
    {
        // 1,100 turns: a long Codex session (a turn per tool call) is deeper than the nodes a grain caches; a
        // reactivated grain reads the whole path back from the store and must still continue it.
        await using var ws = await WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey, Items.Session(Guid.NewGuid().ToString()));
        string? previous = null;
        for (var i = 0; i < 1_100; i++)
        {
            var turn = await ws.TurnAsync(Items.Body([Items.Message("user", $"step {i}")], previousResponseId: previous));
            Assert.Equal("response.completed", turn[^1].Type());
            previous = turn.ResponseId();
        }

        await product.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var next = await ws.TurnAsync(Items.Body([Items.Message("user", "and on")], previousResponseId: previous));
        Assert.Equal("response.completed", next[^1].Type());
        Assert.Equal(2 * 1_100 + 1, Upstream(next.ResponseId()).InputItemCount); // the whole context, rebuilt once
    }

    [Fact]
    public async Task Error_frames_always_carry_a_status()
    {
        await using var ws = await WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey);
        var unknown = await ws.TurnAsync(Items.Body([Items.Message("user", "x")], previousResponseId: "resp_not_ours"));
        Assert.Equal("error", unknown[^1].Type());
        Assert.Equal(400, unknown[^1].GetProperty("status").GetInt32());
        Assert.Equal("previous_response_not_found", unknown[^1].GetProperty("error").GetProperty("code").GetString());

        await ws.SendRawAsync("{not json");
        var bad = (await ws.ReceiveAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))!.Value;
        Assert.Equal(("error", 400), (bad.Type(), bad.GetProperty("status").GetInt32()));

        // An empty message is whole as soon as its header arrives (the wait for a frame reads no payload): answered too.
        await ws.SendRawAsync("");
        var empty = (await ws.ReceiveAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))!.Value;
        Assert.Equal(("error", 400), (empty.Type(), empty.GetProperty("status").GetInt32()));

        // The connection is still usable afterwards.
        var ok = await ws.TurnAsync(Items.Body([Items.Message("user", "fine now")]));
        Assert.Equal("response.completed", ok[^1].Type());
    }

    [Fact]
    public async Task A_wrong_key_is_refused_before_the_upgrade()
    {
        var ex = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => WsClient.ConnectAsync(product.BaseUrl, "sk-not-the-right-key"));
        Assert.Contains("401", ex.Message);
    }
}

public sealed class NoWebSocketsProductFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Gateway:WebSocketsEnabled", "false"];
}

public sealed class DisabledWebSocketTests(NoWebSocketsProductFixture product) : IClassFixture<NoWebSocketsProductFixture>
{
    [Fact]
    public async Task Upgrades_are_answered_426_when_the_transport_is_disabled_and_http_still_works()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/responses");
        request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        using var response = await product.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);

        var http = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "over http")]));
        Assert.Equal("response.completed", http.Terminal!.Type);
    }
}
