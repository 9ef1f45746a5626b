using System.Net;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.EndToEnd;

public sealed class DrainingProductFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Gateway:DrainDelay", "00:00:01", "--CodexLb:Gateway:DrainTimeout", "00:00:20"];
}

/// <summary>Stopping the host (what SIGTERM does) drains: readiness first, in-flight turns finish, new turns get a retryable 503.</summary>
public sealed class DrainTests(DrainingProductFixture product) : IClassFixture<DrainingProductFixture>
{
    [Fact]
    public async Task Stopping_turns_readiness_503_refuses_new_turns_retryably_and_lets_in_flight_turns_finish()
    {
        var marker = "long-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromSeconds(3), TimeSpan.Zero).WhenTextContains(marker));
        var before = product.Simulator.Ledger.Requests.Count;
        var inFlight = SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", marker)]));
        await product.Simulator.Ledger.WaitUntilAsync(l => l.Requests.Skip(before).Any(r => r.Outcome == RequestOutcome.InFlight), TimeSpan.FromSeconds(30));

        var stopping = product.App.StopAsync();
        await Task.Delay(300);
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await anonymous.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);

        var refused = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "too late")]));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("bridge_drain_active", refused.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);

        var upgrade = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey));
        Assert.Contains("503", upgrade.Message); // not 403: the client retries elsewhere

        var finished = await inFlight;
        Assert.True(finished.Status == HttpStatusCode.OK, finished.RawBody);
        Assert.Equal("response.completed", finished.Terminal!.Type);
        await stopping;
        // The conversation's upstream socket was closed by the bridge as the silo deactivated it.
        var id = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == finished.ResponseId).ConnectionId;
        var ledger = await product.Simulator.Ledger.WaitUntilAsync(l => l.Connections.Single(c => c.Id == id).EndedBy != ConnectionEnd.Open, TimeSpan.FromSeconds(15));
        Assert.Equal(ConnectionEnd.ClientClosed, ledger.Connections.Single(c => c.Id == id).EndedBy);
    }
}
