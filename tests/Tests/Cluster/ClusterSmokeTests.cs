using System.Net;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Cluster;

/// <summary>2 silos + 2 gateways + Redis + the simulator as real processes, shared by the smoke tests (which leave the topology alone).</summary>
public sealed class ClusterSmokeFixture : IAsyncLifetime
{
    public const string ApiKey = "sk-cluster-smoke-key";

    public ClusterHarness Cluster { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Cluster = await ClusterHarness.StartAsync(silos: 2, gateways: 2, new ClusterHarnessOptions { ApiKey = ApiKey, Label = "smoke" });

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }
}

/// <summary>
/// Multi-process cluster tests run alone, after the parallel collections: five dotnet processes starting on a small
/// CI machine would otherwise starve the timing-sensitive tests (and be starved by them).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterSmokeCollection : ICollectionFixture<ClusterSmokeFixture>
{
    public const string Name = "cluster-smoke";
}

[Collection(ClusterSmokeCollection.Name)]
public sealed class ClusterSmokeTests(ClusterSmokeFixture fixture)
{
    private const string Path = "/v1/responses";

    private ClusterHarness Cluster => fixture.Cluster;

    [Fact]
    public async Task A_turn_through_gateway_1_continues_through_gateway_2_and_goes_upstream_as_a_delta()
    {
        var gateway1 = Cluster.CreateClient(Cluster.Gateways[0]);
        var gateway2 = Cluster.CreateClient(Cluster.Gateways[1]);
        var tag = Guid.NewGuid().ToString("N")[..8];

        var first = await SseClient.PostAsync(gateway1, Path, Items.Body([Items.Message("user", $"cluster smoke {tag}: first")], stream: false));
        Assert.True(first.Status == HttpStatusCode.OK, $"turn 1 through {Cluster.Gateways[0]}: {(int)first.Status} {first.RawBody}\n{Cluster.Describe()}");
        Assert.Equal("completed", first.Json.GetProperty("status").GetString());
        var firstId = first.Json.GetProperty("id").GetString()!;

        const string lookups = "codexlb_gateway_index_lookups_total";
        var lookupsBefore = await Cluster.MetricAsync(Cluster.Gateways[1], lookups);
        var second = await SseClient.PostAsync(gateway2, Path,
            Items.Body([Items.Message("user", $"cluster smoke {tag}: second")], stream: false, previousResponseId: firstId));
        Assert.True(second.Status == HttpStatusCode.OK, $"turn 2 through {Cluster.Gateways[1]}: {(int)second.Status} {second.RawBody}\n{Cluster.Describe()}");
        Assert.Equal("completed", second.Json.GetProperty("status").GetString());
        var secondId = second.Json.GetProperty("id").GetString()!;
        Assert.NotEqual(firstId, secondId);
        // Gateway 2 never saw the first id issued: it found the conversation through the response index, and says so.
        var lookupsAfter = await Cluster.WaitForMetricAsync(Cluster.Gateways[1], lookups, v => v > lookupsBefore, TimeSpan.FromSeconds(5));
        Assert.True(lookupsAfter > lookupsBefore, $"gateway 2 counted no index lookup ({lookupsBefore} before, {lookupsAfter} after)");

        var upstream1 = await Cluster.Sim.GetRequestForResponseAsync(firstId);
        var upstream2 = await Cluster.Sim.GetRequestForResponseAsync(secondId);
        var context = $"upstream 1: {LedgerText.Line(upstream1)}; upstream 2: {LedgerText.Line(upstream2)}";
        Assert.True(upstream2.IsDelta, $"turn 2 was not a delta upstream. {context}");
        Assert.Equal(firstId, upstream2.PreviousResponseId);
        Assert.True(upstream2.AnchorValid, context);
        Assert.Equal(1, upstream2.InputItemCount);
        Assert.Equal(upstream1.ConnectionId, upstream2.ConnectionId); // the conversation's one upstream socket
        Cluster.ThrowIfAnyExitedUnexpectedly();
    }

    /// <summary>
    /// Each process's own /metrics: the bridge's series, ASP.NET Core's request duration and Orleans' series, and none of
    /// the per-call or per-request meters left out. In processes of their own: in the test process, meters of the other
    /// hosts share these names, and a host stopping there can take their series out of every scrape.
    /// </summary>
    [Fact]
    public async Task Silos_and_gateways_export_the_bridge_aspnetcore_and_orleans_series_and_not_the_per_call_ones()
    {
        // A turn through every process's endpoints, so each has served one.
        foreach (var process in Cluster.Gateways.Concat(Cluster.Silos))
        {
            var turn = await SseClient.PostAsync(Cluster.CreateClient(process), Path, Items.Body([Items.Message("user", "metrics smoke")], stream: false));
            Assert.Equal(HttpStatusCode.OK, turn.Status);
        }
        string[] everywhere = ["codexlb_gateway_turns", "http_server_request_duration_seconds"];
        string[] silos = ["orleans_directory_cache_size", "orleans_catalog_activations"];
        var scraped = new Dictionary<ManagedProcess, string>();
        foreach (var process in Cluster.Gateways.Concat(Cluster.Silos))
        {
            var expected = process.Role == ProcessRole.Silo ? [.. everywhere, .. silos] : everywhere;
            var http = Cluster.CreateClient(process);
            var metrics = "";
            for (var i = 0; i < 50 && !expected.All(metrics.Contains); i++) // the exporter caches a scrape for a moment
            {
                await Task.Delay(200);
                metrics = await http.GetStringAsync("/metrics");
            }
            scraped[process] = metrics;
            foreach (var name in expected) Assert.True(metrics.Contains(name, StringComparison.Ordinal), $"{process.Name} exports no {name}");
            foreach (var name in EndToEnd.GatewayApiTests.PerCallMeters)
                Assert.False(metrics.Contains(name, StringComparison.Ordinal), $"{process.Name} exports {name}, a per-call or per-request meter");
            Assert.DoesNotContain("metrics smoke", metrics);
        }
        // Series that start with a grain's first measurement are where the conversations live: on some silo (four turns can
        // all land on one).
        foreach (var name in new[] { "codexlb_upstream_sends", "codexlb_context_tokens", "codexlb_conversations_active", "orleans_app_requests_latency" })
            Assert.Contains(Cluster.Silos, silo => scraped[silo].Contains(name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_silo_and_gateway_answers_healthz_and_readyz_and_redis_and_the_simulator_are_up()
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        var failures = new List<string>();
        foreach (var process in Cluster.Silos.Concat(Cluster.Gateways))
        {
            foreach (var path in new[] { "healthz", "readyz" })
            {
                using var response = await http.GetAsync(new Uri(process.HttpBase!, path)); // no credentials: probes are open
                if (response.StatusCode != HttpStatusCode.OK) failures.Add($"{process} /{path} -> {(int)response.StatusCode}");
            }
        }

        Assert.True(await Cluster.Redis.IsReadyAsync(), "redis does not answer PING");
        Assert.True(await Cluster.Simulator.IsReadyAsync(), "the simulator does not answer /v1/models");
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + Cluster.Describe());
        Assert.All(Cluster.All, p => Assert.True(p.IsRunning, $"{p} is not running"));
        Cluster.ThrowIfAnyExitedUnexpectedly();
    }
}
