using System.Net;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// A background response streamed again by id across real processes: a client whose gateway was killed mid-stream
/// resumes through another gateway at the next event, and the provider generates the answer once; a replay whose owner
/// silo is killed under it goes on with the response's new run (started on the conversation's new owner): a second
/// <c>response.created</c>, numbered past every number of the lost run, then the new run to its completion.
/// </summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class ResponseReplayClusterTests(ITestOutputHelper output)
{
    private const string ApiKey = "sk-replay-key";
    private const string Path = "/v1/responses";

    private static string Background(string text)
    {
        var body = Items.Body([Items.Message("user", text)], stream: true);
        body.Remove("store"); // the API's default: stored
        body["background"] = true;
        return body.ToJsonString();
    }

    private static string Deltas(IEnumerable<LiveEvent> events) =>
        string.Concat(events.Where(e => e.Type == "response.output_text.delta").Select(e => e.Json!["delta"]!.GetValue<string>()));

    [Fact]
    public async Task A_replay_survives_a_killed_gateway_and_goes_on_with_the_new_run_when_its_owner_silo_is_killed()
    {
        await using var cluster = await ClusterHarness.StartAsync(2, 2, new ClusterHarnessOptions
        {
            Label = "replay", ApiKey = ApiKey,
            SiloArgs = ["--Logging:LogLevel:Default", "Warning"],
            GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
        });
        var gw1 = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var gw2 = cluster.CreateClient(cluster.Gateways[1], TimeSpan.FromSeconds(90));

        // 1. The owner silo is killed while a client streams the response again through the other gateway.
        var lostMarker = Rx.Marker("replay-owner");
        await cluster.Sim.AddFaultAsync(ExactlyOnceClusterTests.SlowStream(lostMarker));
        var original = LiveTurn.Start(gw1, Background("count slowly " + lostMarker), new Dictionary<string, string>());
        await original.WaitUntilAsync(t => t.Events.Count >= 3, TimeSpan.FromSeconds(30));
        var lostId = original.Events[0].ResponseId!;
        var owner = await cluster.OwnerOfOnlyConversationAsync();
        var replay = LiveTurn.Get(gw2, $"{Path}/{lostId}?stream=true");
        await replay.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));
        await owner.KillAsync();
        var killedAt = DateTimeOffset.UtcNow;
        await replay.Completion.WaitAsync(TimeSpan.FromSeconds(90));
        var events = replay.Events;
        var restart = events.ToList().FindLastIndex(e => e.Type == "response.created");
        output.WriteLine($"MEASURED replay after kill -9 of the owner {owner.Name}: ended {(replay.EndedAt!.Value - killedAt).TotalSeconds:F2}s later, " +
                         $"new run from event {restart}; {replay.Describe()}");
        Assert.True(replay.IsCompleted, "the replay did not complete: " + replay.Describe());
        Assert.Equal("response.created", events[0].Type);
        Assert.True(restart > 0, "no new run began in the replay: " + replay.Describe());
        var lostRun = events.Take(restart).Select(e => e.Sequence!.Value).ToList();
        var newRun = events.Skip(restart).Select(e => e.Sequence!.Value).ToList();
        Assert.Equal(Enumerable.Range(0, lostRun.Count), lostRun);
        Assert.Equal(Enumerable.Range(1_000_000, newRun.Count), newRun); // past every number of the lost run, for any client's cursor
        Assert.All(events.Where(e => e.ResponseId is not null), e => Assert.Equal(lostId, e.ResponseId));
        var recovered = System.Text.Json.JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("response");
        Assert.Equal(ResponseJson.OutputText(recovered), Deltas(events.Skip(restart)));

        // 2. The gateway carrying a background stream is killed; the client resumes through the other one.
        var marker = Rx.Marker("replay-gw");
        await cluster.Sim.AddFaultAsync(ExactlyOnceClusterTests.SlowStream(marker));
        var since = DateTimeOffset.UtcNow;
        var cut = LiveTurn.Start(gw1, Background("count slowly " + marker), new Dictionary<string, string>());
        await cut.WaitUntilAsync(t => t.Events.Count >= 6, TimeSpan.FromSeconds(30));
        await cluster.Gateways[0].KillAsync();
        await cut.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        var had = cut.Events;
        var id = had[0].ResponseId!;
        var last = had[^1].Sequence!.Value;

        var resumed = LiveTurn.Get(gw2, $"{Path}/{id}?stream=true&starting_after={last}");
        await resumed.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"MEASURED the cut stream had {had.Count} events; resumed after {last}: {resumed.Describe()}");
        Assert.Equal(HttpStatusCode.OK, resumed.Status);
        Assert.True(resumed.IsCompleted, "the resumed stream did not complete: " + resumed.Describe());
        Assert.Equal(last + 1, resumed.Events[0].Sequence);
        resumed.AssertContiguous();
        var completed = System.Text.Json.JsonDocument.Parse(resumed.Events[^1].Data).RootElement.GetProperty("response");
        Assert.Equal(ResponseJson.OutputText(completed), Deltas(had) + Deltas(resumed.Events));
        await Task.Delay(TimeSpan.FromSeconds(1)); // a second generation, if any, would be in the ledger by now
        var generations = (await cluster.Sim.GetRequestsAsync()).Where(r => r.Generate && r.StartedAt >= since).ToList();
        Assert.True(generations.Count == 1, $"{generations.Count} generations for one response: {LedgerText.Lines(generations, "; ")}");
        Assert.Equal(id, generations[0].ResponseId);
    }
}
