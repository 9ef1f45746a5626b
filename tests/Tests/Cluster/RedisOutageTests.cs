using System.Diagnostics;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>Redis (with its append-only file, as in production) stopped for 5 s and restarted under traffic.</summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Turns_during_a_redis_outage_fail_retryably_within_their_deadline_and_everything_continues_afterwards()
    {
        await using var cluster = await ClusterHarness.StartAsync(silos: 2, gateways: 1, new ClusterHarnessOptions
        {
            Label = "redis-outage", ApiKey = "sk-outage-test-key", RedisPersistence = true,
            SiloArgs = ["--Logging:LogLevel:Default", "Warning"], GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
        });
        var clock = Stopwatch.StartNew();
        var clients = ChaosClient.Alternating(6, cluster, clock);
        foreach (var client in clients) await client.RunTurnAsync(1, [Items.Message("user", $"before the outage {client.GetHashCode()}")]);

        await cluster.StopRedisAsync();
        var outageEnds = clock.Elapsed + TimeSpan.FromSeconds(5);
        var late = await cluster.AddGatewayAsync(waitReady: false); // starts while Redis is down
        var answers = new List<(TimeSpan Took, string What, bool Acceptable)>();
        var http = cluster.CreateClient(cluster.Gateways[0], Deadline + TimeSpan.FromSeconds(30));
        while (clock.Elapsed < outageEnds)
        {
            await Task.WhenAll(clients.Select(async (c, i) =>
            {
                var started = clock.Elapsed;
                var body = Items.Body([Items.Message("user", $"during the outage {i} at {started.TotalSeconds:F1}s")], previousResponseId: c.LastResponseId);
                var result = await SseClient.PostAsync(http, "/v1/responses", body);
                var took = clock.Elapsed - started;
                var acceptable = Rx.IsCompleted(result) || Rx.IsRetryable(result);
                lock (answers) answers.Add((took, Rx.Describe(result), acceptable));
            }));
        }
        // The late gateway could not reach Redis and kept trying, instead of exiting.
        var waited = Stopwatch.StartNew();
        while (!late.Tail().Contains("Could not connect to the cluster", StringComparison.Ordinal))
        {
            Assert.True(late.IsRunning, "the gateway started during the outage exited:\n" + late.TailReport());
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "the gateway started during the outage never tried Redis:\n" + late.TailReport());
            await Task.Delay(200);
        }
        await cluster.StartRedisAsync();

        foreach (var (took, what, _) in answers) output.WriteLine($"{took.TotalSeconds:F2}s {what}");
        Assert.NotEmpty(answers);
        Assert.All(answers, a => Assert.True(a.Acceptable, "not retryable: " + a.What));
        Assert.All(answers, a => Assert.True(a.Took < Deadline, $"hung {a.Took}: {a.What}"));
        Assert.DoesNotContain(answers, a => a.What.Contains("previous_response_not_found"));

        // Afterwards every conversation continues from where it was (the client retries like the Codex CLI).
        for (var turn = 2; turn <= 3; turn++)
            foreach (var client in clients) await client.RunTurnAsync(turn, [Items.Message("user", $"after the outage, turn {turn}")]);
        var ledger = (await cluster.Sim.GetRequestsAsync()).Where(r => r.ResponseId is not null).ToDictionary(r => r.ResponseId!);
        foreach (var t in clients.SelectMany(c => c.Turns)) t.AssertTrueContext(ledger[t.ResponseId!]);

        // Once Redis is back the late gateway joins and serves: a conversation continues through it.
        await late.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var through = await SseClient.PostAsync(cluster.CreateClient(late), "/v1/responses",
            Items.Body([Items.Message("user", "through the late gateway")], previousResponseId: clients[0].LastResponseId));
        Assert.True(Rx.IsCompleted(through), Rx.Describe(through));
        cluster.ThrowIfAnyExitedUnexpectedly();
    }
}
