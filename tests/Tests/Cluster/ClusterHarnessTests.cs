using System.Net;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Cluster;

/// <summary>The harness itself: what topology tests rely on (kill, stop, restart on the same ports, pause, failure reports).</summary>
[Collection(ClusterSmokeCollection.Name)] // not in parallel with other tests (each test starts its own cluster)
public sealed class ClusterHarnessTests
{
    [Fact]
    public async Task Processes_can_be_killed_stopped_paused_and_restarted_on_the_same_ports()
    {
        await using var cluster = await ClusterHarness.StartAsync(silos: 1, gateways: 1, new ClusterHarnessOptions { Label = "harness" });
        var silo = cluster.Silos[0];
        var gateway = cluster.Gateways[0];
        Assert.Equal(cluster.Configuration, AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug");

        // A turn through the gateway; the simulator's control client sees it.
        var http = cluster.CreateClient(gateway);
        var turn = await SseClient.PostAsync(http, "/v1/responses", Items.Body([Items.Message("user", "harness turn")], stream: false));
        Assert.True(turn.Status == HttpStatusCode.OK, $"{(int)turn.Status} {turn.RawBody}\n{cluster.Describe()}");
        var upstream = await cluster.Sim.GetRequestForResponseAsync(turn.Json.GetProperty("id").GetString()!);
        Assert.Equal(RequestOutcome.Completed, upstream.Outcome);
        Assert.Equal("Bearer " + ClusterHarness.UpstreamApiKey, upstream.Authorization);

        // Faults round-trip through POST/GET/DELETE /_sim/faults.
        var added = await cluster.Sim.AddFaultAsync(Fault.CloseAfter(2).WhenTextContains("never-sent").Times(3));
        Assert.Equal(FaultKind.CloseAfterEvent, added.Kind);
        var pending = Assert.Single((await cluster.Sim.GetFaultsAsync()).Pending);
        Assert.Equal((2, 3, "never-sent"), (pending.EventIndex, pending.Count, pending.TextContains));
        await cluster.Sim.ClearFaultsAsync();
        Assert.Empty((await cluster.Sim.GetFaultsAsync()).Pending);
        await cluster.Sim.ClearLedgerAsync();
        Assert.Empty((await cluster.Sim.GetLedgerAsync()).Requests);

        // SIGKILL: gone at once, not reported as a crash; a restart comes back on the same port with a new pid.
        var pid = silo.Pid;
        await silo.KillAsync();
        Assert.False(silo.IsRunning);
        Assert.False(silo.ExitedUnexpectedly);
        Assert.Equal(137, silo.ExitCode);
        await silo.StartAsync();
        Assert.NotEqual(pid, silo.Pid);
        Assert.Equal(2, silo.Starts);
        Assert.True(await silo.IsReadyAsync());

        // SIGTERM: a graceful exit (code 0) within the stop timeout; RestartAsync brings it back.
        await gateway.StopAsync(TimeSpan.FromSeconds(30));
        Assert.False(gateway.IsRunning);
        Assert.Equal(0, gateway.ExitCode);
        await gateway.StartAsync();
        pid = gateway.Pid;
        await gateway.RestartAsync();
        Assert.NotEqual(pid, gateway.Pid);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);

        // Redis: a pause keeps its data (PING times out meanwhile), a stop/start is the same port, empty.
        await cluster.Redis.PauseAsync();
        Assert.False(await cluster.Redis.IsReadyAsync());
        await cluster.Redis.ResumeAsync();
        await cluster.Redis.WaitReadyAsync(TimeSpan.FromSeconds(10));
        await cluster.StopRedisAsync();
        Assert.False(cluster.Redis.IsRunning);
        await cluster.StartRedisAsync();
        Assert.True(await cluster.Redis.IsReadyAsync());

        Assert.Contains("==== SIGKILL from the harness", await File.ReadAllTextAsync(silo.LogPath));
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    [Fact]
    public async Task A_process_that_dies_at_start_up_fails_StartAsync_with_the_tail_of_its_log()
    {
        var error = await Assert.ThrowsAsync<ClusterProcessException>(() => ClusterHarness.StartAsync(silos: 1, gateways: 1, new ClusterHarnessOptions
        {
            Label = "harness-bad",
            SiloArgs = ["--CodexLb:Gateway:MaxRequestBodyBytes", "10"], // fails options validation at start-up
        }));

        Assert.Contains("silo1", error.Message);
        Assert.Contains("before it was ready", error.Message);
        Assert.Contains("MaxRequestBodyBytes", error.Message); // the product's own message, from the log's tail
    }
}
