using System.Diagnostics;
using System.Text;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

public sealed class SimulatorHostTests
{
    [Fact]
    public async Task Host_binds_loopback_and_exposes_its_urls()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();

        Assert.True(sim.Port > 0);
        Assert.Equal($"http://127.0.0.1:{sim.Port}/v1", sim.BaseUrl.ToString());
        Assert.Equal($"ws://127.0.0.1:{sim.Port}/v1/responses", sim.WebSocketUrl.ToString());
    }

    [Fact]
    public async Task Dispose_ends_hung_websocket_and_http_requests_promptly()
    {
        var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Hang().Forever());
        var ledger = sim.Ledger;

        var client = await SimWsClient.ConnectAsync(sim);
        await client.SendAsync(Create([User("hang")]));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        var hungHttp = http.PostAsync(new Uri(sim.Root, "v1/responses"),
            new StringContent(HttpBody([User("hang")], stream: true), Encoding.UTF8, "application/json"));
        await ledger.WaitUntilAsync(s => s.Requests.Count == 2, SimWsClient.Timeout);

        var watch = Stopwatch.StartNew();
        await sim.DisposeAsync();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"dispose took {watch.Elapsed}");
        Assert.Null(await client.ReceiveAsync());
        await Assert.ThrowsAnyAsync<Exception>(() => hungHttp);
        var snapshot = ledger.Snapshot();
        Assert.Equal(ConnectionEnd.ServerClosed, snapshot.Connections.Single().EndedBy);
        Assert.All(snapshot.Requests, r => Assert.Equal(RequestOutcome.Aborted, r.Outcome));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Options_passed_to_one_host_do_not_leak_into_another()
    {
        var options = new SimulatorOptions { TextDeltas = 1 };
        await using var one = await UpstreamSimulatorHost.StartAsync(options);
        options.TextDeltas = 4;
        await using var two = await UpstreamSimulatorHost.StartAsync(options);

        await using var a = await SimWsClient.ConnectAsync(one);
        await using var b = await SimWsClient.ConnectAsync(two);

        Assert.Equal(1, (await a.CreateAsync([User("hi")])).Types.Count(t => t == "response.output_text.delta"));
        Assert.Equal(4, (await b.CreateAsync([User("hi")])).Types.Count(t => t == "response.output_text.delta"));
    }
}
