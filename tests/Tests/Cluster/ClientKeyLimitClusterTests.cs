using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CodexLb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>A key's limit is the cluster's, not each gateway's: its one grain counts every gateway's turns.</summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class ClientKeyLimitClusterTests(ITestOutputHelper output)
{
    private const string Key = "sk-cluster-limited-key";
    private const int Limit = 300;
    private const int PerGateway = 450;   // 3x the limit in all
    private const int Concurrency = 24;   // per gateway

    [Fact]
    public async Task Two_gateways_hammering_one_key_admit_its_requests_per_minute_within_one_percent_and_refuse_the_rest_with_429()
    {
        string[] keyArgs = ["--CodexLb:Keys:0:Name", "hammered", "--CodexLb:Keys:0:Key", Key, "--CodexLb:Keys:0:RequestsPerMinute", Limit.ToString()];
        await using var cluster = await ClusterHarness.StartAsync(silos: 2, gateways: 2, new ClusterHarnessOptions
        {
            Label = "key-limit",
            SiloArgs = [.. keyArgs, "--Logging:LogLevel:Default", "Warning"],
            GatewayArgs = [.. keyArgs, "--Logging:LogLevel:Default", "Warning"],
        });
        var clients = cluster.Gateways.Select(g =>
        {
            var http = cluster.CreateClient(g);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            return http;
        }).ToArray();
        // One turn through each gateway first: connections, JIT and the key's activation are warm before the hammering.
        // Two different requests: the same one again within seconds of its answer would be answered with that answer.
        for (var g = 0; g < clients.Length; g++) Assert.Equal(HttpStatusCode.OK, (await Send(clients[g], -1 - g)).Status);

        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(clients.Select((http, g) => Hammer(http, g)));
        var elapsed = clock.Elapsed;
        var all = results.SelectMany(r => r).ToList();

        var admitted = all.Count(r => r.Status == HttpStatusCode.OK) + clients.Length; // the warm-up turns count too
        var refused = all.Where(r => r.Status != HttpStatusCode.OK).ToList();
        var context = $"{admitted} admitted, {refused.Count} refused of {all.Count + clients.Length} in {elapsed.TotalSeconds:F1} s " +
            $"(gateway1 {results[0].Count(r => r.Status == HttpStatusCode.OK)}, gateway2 {results[1].Count(r => r.Status == HttpStatusCode.OK)})\n{cluster.Describe()}";
        output.WriteLine(context);
        Assert.True(Math.Abs(admitted - Limit) <= Limit / 100, context);
        foreach (var refusal in refused)
        {
            Assert.True(refusal.Status == HttpStatusCode.TooManyRequests, $"a refusal that is not a 429: {(int)refusal.Status} {refusal.RawBody}\n{context}");
            var error = refusal.Json.GetProperty("error");
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            Assert.True(refusal.Headers.RetryAfter?.Delta is { } retry && retry > TimeSpan.Zero, "a 429 without Retry-After");
        }
        // Each gateway admitted some (the limit was shared, not one gateway's alone), and only admitted turns reached the provider.
        Assert.All(results, r => Assert.Contains(r, t => t.Status == HttpStatusCode.OK));
        var upstream = (await cluster.Sim.GetRequestsAsync()).Count(r => r.Generate);
        Assert.Equal(admitted, upstream);

        // The key's usage, read through either gateway, is the one count.
        using var usage = await clients[1].GetAsync("/v1/usage");
        var minute = JsonDocument.Parse(await usage.Content.ReadAsStringAsync()).RootElement.GetProperty("minute");
        Assert.Equal(admitted, minute.GetProperty("requests").GetInt64());
        cluster.ThrowIfAnyExitedUnexpectedly();
    }

    /// <summary>One gateway's share: <see cref="Concurrency"/> workers sending until <see cref="PerGateway"/> requests went out.</summary>
    private static async Task<List<TurnResult>> Hammer(HttpClient http, int gateway)
    {
        var results = new List<TurnResult>();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) <= PerGateway)
            {
                var result = await Send(http, gateway * PerGateway + i);
                lock (results) results.Add(result);
            }
        }));
        return results;
    }

    /// <summary>A turn in one of 64 sessions per gateway (named sessions: no new-conversation limit in the way, short queues).</summary>
    private static Task<TurnResult> Send(HttpClient http, int i) =>
        SseClient.PostAsync(http, "/v1/responses", Items.Body([Items.Message("user", $"hammer {i}")], stream: false),
            Items.Session($"key-limit-{i % 128}"));
}
