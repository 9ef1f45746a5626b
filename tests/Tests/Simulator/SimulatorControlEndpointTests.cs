using System.Net;
using System.Net.Http.Json;
using System.Text;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

/// <summary>The /_sim/* control surface that out-of-process tests use.</summary>
public sealed class SimulatorControlEndpointTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Posted_faults_apply_and_the_ledger_is_readable_and_clearable_over_http()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Root, Timeout = TimeSpan.FromSeconds(15) };

        var posted = await http.PostAsync("_sim/faults", Json("""{"kind":"closeAfterEvent","eventIndex":1,"transport":"webSocket"}"""));
        Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        var pending = await http.GetFromJsonAsync("_sim/faults", SimulatorJsonContext.Default.FaultPlanSnapshot);
        var fault = Assert.Single(pending!.Pending);
        Assert.Equal(FaultKind.CloseAfterEvent, fault.Kind);
        Assert.Equal(1, fault.Count);
        Assert.Equal(SimTransport.WebSocket, fault.Transport);

        await using (var client = await SimWsClient.ConnectAsync(sim))
        {
            var response = await client.CreateAsync([User("hi")]);
            Assert.True(response.Closed);
            Assert.Equal(2, response.Events.Count);
        }

        var ledger = await http.GetFromJsonAsync("_sim/ledger", SimulatorJsonContext.Default.LedgerSnapshot);
        var request = Assert.Single(ledger!.Requests);
        Assert.Equal(RequestOutcome.ClosedByFault, request.Outcome);
        Assert.Equal("CloseAfterEvent(1)", request.Fault);
        Assert.Equal(Tokens(User("hi")), request.NewInputTokens);
        Assert.Equal(ledger.Connections.Single().Id, request.ConnectionId);

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("_sim/ledger")).StatusCode);
        ledger = await http.GetFromJsonAsync("_sim/ledger", SimulatorJsonContext.Default.LedgerSnapshot);
        Assert.Empty(ledger!.Requests);
        Assert.Empty(ledger.Connections);
    }

    [Fact]
    public async Task Posted_faults_keep_defaults_take_milliseconds_and_can_be_cleared()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Root, Timeout = TimeSpan.FromSeconds(15) };

        await http.PostAsync("_sim/faults", Json("""{"kind":"RefuseHandshake","status":429,"retryAfter":2500}"""));
        await http.PostAsync("_sim/faults", Json("""{"kind":"errorFrame","textContains":"x","count":3}"""));

        var pending = sim.Faults.Pending;
        Assert.Equal(2, pending.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), pending[0].RetryAfter);
        Assert.Equal(1, pending[0].Count);
        Assert.Equal(3, pending[1].Count);
        Assert.Equal("x", pending[1].TextContains);

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("_sim/faults")).StatusCode);
        Assert.Empty(sim.Faults.Pending);
    }

    [Fact]
    public async Task A_malformed_fault_is_a_400()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Root, Timeout = TimeSpan.FromSeconds(15) };

        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("_sim/faults", Json("""{"kind":"nope"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("_sim/faults", Json("""{"kind":"hang","count":0}"""))).StatusCode);
        Assert.Empty(sim.Faults.Pending);
    }

    [Fact]
    public async Task In_process_ledger_clear_keeps_ids_increasing()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using (var client = await SimWsClient.ConnectAsync(sim))
        {
            await client.CreateAsync([User("hi")]);
        }

        sim.Ledger.Clear();
        await using var again = await SimWsClient.ConnectAsync(sim);
        await again.CreateAsync([User("hi")]);

        Assert.Equal(2, sim.Ledger.Connections.Single().Id);
        Assert.Equal(2, sim.Ledger.Requests.Single().Id);
    }

    [Fact]
    public async Task The_ledger_keeps_at_most_its_capacity_and_forgets_the_oldest()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { LedgerCapacity = 10 });
        using var http = new HttpClient { BaseAddress = sim.Root, Timeout = TimeSpan.FromSeconds(15) };
        for (var i = 0; i < 12; i++)
        {
            (await http.PostAsync("v1/responses", Json(HttpBody([User("hi")], stream: false)))).EnsureSuccessStatusCode();
        }

        var requests = sim.Ledger.Requests;
        Assert.InRange(requests.Count, 9, 10);
        Assert.Equal(12, requests[^1].Id);
        Assert.DoesNotContain(requests, r => r.Id == 1);
    }

    [Fact]
    public async Task Waiting_for_a_ledger_condition_times_out_with_a_timeout_exception()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();

        await Assert.ThrowsAsync<TimeoutException>(() =>
            sim.Ledger.WaitUntilAsync(s => s.Requests.Count > 0, TimeSpan.FromMilliseconds(200)));
    }
}
