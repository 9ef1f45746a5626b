using System.Diagnostics;
using System.Net;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Cluster;

/// <summary>SIGTERM on real processes: a silo drains its in-flight turns and its conversations continue elsewhere.</summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class GracefulStopTests
{
    [Fact]
    public async Task Sigterm_on_a_silo_turns_readiness_503_finishes_in_flight_turns_and_its_conversations_continue_on_another_silo()
    {
        await using var cluster = await ClusterHarness.StartAsync(silos: 2, gateways: 1, new ClusterHarnessOptions
        {
            Label = "graceful", ApiKey = "sk-graceful-test-key", RedisPersistence = true,
            SiloArgs = ["--CodexLb:Gateway:DrainDelay", "00:00:01", "--Logging:LogLevel:Default", "Warning"],
        });
        var clock = Stopwatch.StartNew();
        // Placement decides where conversations live: start them until silo1 hosts some (it usually does after a few).
        var clients = new List<ChaosClient>();
        while (clients.Count < 8 || (await cluster.MetricAsync(cluster.Silos[0], "codexlb_conversations_active") == 0 && clients.Count < 64))
        {
            var client = new ChaosClient(clients.Count, ChaosClient.StyleOf(clients.Count), cluster, clock);
            await client.RunTurnAsync(1, [Items.Message("user", "first turn")]);
            clients.Add(client);
        }

        // Second turns are slow upstream (3 s before the first event): in flight on both silos when silo1 is told to stop.
        var marker = "slow-" + Guid.NewGuid().ToString("N");
        await cluster.Sim.AddFaultAsync(Fault.Delay(TimeSpan.FromSeconds(3), TimeSpan.Zero).WhenTextContains(marker).Times(clients.Count));
        var gateway = cluster.CreateClient(cluster.Gateways[0]);
        var slowTurns = clients.Select(c => SseClient.PostAsync(gateway, "/v1/responses",
            Items.Body([Items.Message("user", marker)], previousResponseId: c.LastResponseId))).ToList();
        await cluster.Sim.WaitUntilAsync(l => l.Requests.Count(r => r.Outcome == RequestOutcome.InFlight) == clients.Count, TimeSpan.FromSeconds(30));

        Assert.True(await cluster.MetricAsync(cluster.Silos[0], "codexlb_conversations_active") > 0, "silo1 hosts no conversation; the test would prove nothing");

        var stopping = cluster.Silos[0].StopAsync(TimeSpan.FromSeconds(60));
        var readiness = await WaitForStatusAsync(cluster.CreateClient(cluster.Silos[0]), HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness);

        foreach (var turn in slowTurns)
        {
            var result = await turn;
            Assert.True(Rx.IsCompleted(result), "an in-flight turn did not survive the drain: " + Rx.Describe(result));
        }
        await stopping;
        Assert.False(cluster.Silos[0].IsRunning);

        // Every conversation continues (those that lived on silo1 reactivate on silo2 from Redis).
        foreach (var c in clients) await c.RunTurnAsync(3, [Items.Message("user", "after the stop")]);
        Assert.All(clients.SelectMany(c => c.Turns), t => Assert.Empty(t.Errors));
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    private static async Task<HttpStatusCode?> WaitForStatusAsync(HttpClient silo, HttpStatusCode wanted)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                var status = (await silo.GetAsync("/readyz")).StatusCode;
                if (status == wanted) return status;
            }
            catch (HttpRequestException)
            {
                return null; // already gone
            }
            await Task.Delay(50);
        }
        return null;
    }
}
