using System.Net;
using System.Text;
using System.Text.Json;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// A background response is polled, not followed: when the silo generating it is killed (<c>kill -9</c>), frozen past its
/// death declaration (SIGSTOP), or stopped by a rolling deploy whose drain is shorter than the response, no client's retry
/// would ever run it again. The next poll runs
/// it again on the conversation's new owner, under the id its client has, and it completes; a turn chaining on it then goes
/// upstream as a delta on the new run's own response. The silos are given a six-second pending lifetime, so the
/// twelve-second new run also shows a long response staying retrievable while it runs (its owner refreshes it); the
/// owner's loss is noticed well within that lifetime.
/// </summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class BackgroundRecoveryClusterTests(ITestOutputHelper output)
{
    private const string ApiKey = "sk-recovery-key";
    private const string Path = "/v1/responses";

    /// <summary>30 deltas 400 ms apart: about 12 s, twice the pending lifetime the silos are given.</summary>
    private static Fault LongStream(string marker) =>
        (Fault.Delay(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400)) with { TextDeltas = 30 }).WhenTextContains(marker).Forever();

    private static StringContent Json(System.Text.Json.Nodes.JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>A cluster of two silos and two gateways with a background response whose owner silo was just lost mid-generation.</summary>
    private sealed record LostResponse(ClusterHarness Cluster, HttpClient Gw1, HttpClient Gw2, string Id, DateTimeOffset Since, string How) : IAsyncDisposable
    {
        /// <summary>The client's stream of its create, read to its end, when it streamed it.</summary>
        public Task<TurnResult>? Stream { get; init; }

        public async Task<List<RequestRecord>> GenerationsAsync() =>
            (await Cluster.Sim.GetRequestsAsync()).Where(r => r.Generate && r.StartedAt >= Since).OrderBy(r => r.Id).ToList();

        public ValueTask DisposeAsync() => Cluster.DisposeAsync();
    }

    /// <summary>How the owner silo is lost while the provider generates the response.</summary>
    public enum Loss { Kill, Stop, Freeze }

    /// <param name="pendingLifetime">The silos' <c>CodexLb:State:PendingLifetime</c>: longer than the cluster takes to notice the loss.</param>
    /// <param name="streamed">The client streams its create (through the first gateway) instead of taking the started object.</param>
    private static async Task<LostResponse> LoseAsync(Loss loss, string pendingLifetime = "00:00:06", bool streamed = false)
    {
        var cluster = await ClusterHarness.StartAsync(2, 2, new ClusterHarnessOptions
        {
            Label = "recovery-" + loss.ToString().ToLowerInvariant(), ApiKey = ApiKey,
            SiloArgs = ["--Logging:LogLevel:Default", "Warning", "--CodexLb:State:PendingLifetime", pendingLifetime,
                "--CodexLb:Gateway:DrainDelay", "00:00:00.200", "--CodexLb:Gateway:DrainTimeout", "00:00:01"],
            GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
        });
        var gw1 = cluster.CreateClient(cluster.Gateways[0], TimeSpan.FromSeconds(90));
        var gw2 = cluster.CreateClient(cluster.Gateways[1], TimeSpan.FromSeconds(90));
        var marker = Rx.Marker("recover");
        await cluster.Sim.AddFaultAsync(LongStream(marker));
        var since = DateTimeOffset.UtcNow;

        var body = Items.Body([Items.Message("user", "count slowly " + marker)], stream: streamed);
        body.Remove("store"); // the API's default: stored
        body["background"] = true;
        Task<TurnResult>? stream = null;
        string? id = null;
        if (streamed) stream = SseClient.PostAsync(gw1, Path, body);
        else
        {
            using var created = await gw1.PostAsync(Path, Json(body));
            var createdText = await created.Content.ReadAsStringAsync();
            Assert.True(created.StatusCode == HttpStatusCode.OK, createdText);
            id = JsonDocument.Parse(createdText).RootElement.GetProperty("id").GetString()!;
        }

        // The provider is generating it when its owner goes.
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        RequestRecord? generating;
        while ((generating = (await cluster.Sim.GetRequestsAsync()).FirstOrDefault(r => r.Generate && r.StartedAt >= since && r.ResponseId is not null)) is null)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the provider never started the background response");
            await Task.Delay(100);
        }
        id ??= generating.ResponseId!; // a conversation's first response goes to its client under the provider's id
        await Task.Delay(TimeSpan.FromSeconds(1));
        var owner = await cluster.OwnerOfOnlyConversationAsync();
        // A graceful stop drains for a second, then stops the response it could not wait for (a deploy's drain is bounded).
        // A frozen owner stays frozen: declared dead, it stops itself once it runs again, and its run can write nothing.
        await (loss switch { Loss.Stop => owner.StopAsync(), Loss.Freeze => owner.PauseAsync(), _ => owner.KillAsync() });
        return new LostResponse(cluster, gw1, gw2, id, since, $"{loss switch { Loss.Stop => "SIGTERM", Loss.Freeze => "SIGSTOP", _ => "kill -9" }} of the owner {owner.Name}")
            { Stream = stream };
    }

    [Theory]
    [InlineData(Loss.Kill)]
    [InlineData(Loss.Stop)]
    public async Task A_background_response_whose_owner_silo_is_lost_completes_under_its_id_when_polled_and_can_be_continued(Loss loss)
    {
        await using var lost = await LoseAsync(loss);
        var lostAt = DateTimeOffset.UtcNow;

        var (final, running) = await PollUntilOverAsync(lost, lostAt);
        Assert.True(running > TimeSpan.FromSeconds(6), $"seen running for {running.TotalSeconds:F1}s only, not past the pending lifetime");

        var generations = await lost.GenerationsAsync();
        output.WriteLine($"MEASURED generations: {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations.Count == 2, $"{generations.Count} generations (the lost one and its new run expected): {LedgerText.Lines(generations, "; ")}");
        var rerun = generations[1];
        Assert.NotEqual(lost.Id, rerun.ResponseId); // the provider's id for the new run; the client's stays the id it has

        // The client continues from the id it has: a delta on the new run's own response, no history resent.
        var (status2, continuedText) = await ContinueAsync(lost);
        Assert.True(status2 == HttpStatusCode.OK, continuedText);
        var chained = (await lost.GenerationsAsync()).Where(r => r.Id > rerun.Id).ToList();
        output.WriteLine($"MEASURED the chained turn upstream: {LedgerText.Lines(chained, "; ")}");
        var sent = Assert.Single(chained);
        Assert.True(sent.IsDelta, "the chained turn resent the history: " + LedgerText.Lines(chained, "; "));
        Assert.Equal(rerun.ResponseId, sent.PreviousResponseId);
    }

    [Fact]
    public async Task A_streamed_background_response_whose_owner_silo_is_killed_goes_on_in_the_same_stream_under_its_id()
    {
        await using var lost = await LoseAsync(Loss.Kill, streamed: true);
        var result = await lost.Stream!.WaitAsync(TimeSpan.FromSeconds(120));

        // One stream to its end: the lost run's first events, then its new run's from its own response.created, under the
        // same id. Never response.failed: the response was not over, and a client told so would take it as over.
        var types = string.Join(",", result.Events.Select(e => e.Type));
        var created = result.Events.Where(e => e.Type == "response.created").Select(e => e.Data.GetProperty("response").GetProperty("id").GetString()).ToList();
        output.WriteLine($"MEASURED the stream after {lost.How}: {result.Events.Count} events, {created.Count} response.created, ends {result.Terminal?.Type}");
        Assert.DoesNotContain(result.Events, e => e.Type == "response.failed");
        Assert.True(result.Terminal?.Type == "response.completed", $"ended {result.Terminal?.Type}: {types}");
        Assert.Equal([lost.Id, lost.Id], created);
        Assert.Equal(lost.Id, result.ResponseId);
        var sequence = result.Events.Select(e => e.Data.GetProperty("sequence_number").GetInt64()).ToList();
        Assert.True(sequence.Zip(sequence.Skip(1)).All(p => p.First < p.Second), "sequence numbers not increasing: " + string.Join(",", sequence));
        // One response to the client's stream helper: the lost run's items closed, the new run's numbered after them.
        StreamContract.AssertOneResponse(result.Events);

        var generations = await lost.GenerationsAsync();
        output.WriteLine($"MEASURED generations: {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations.Count == 2, $"{generations.Count} generations (the lost one and its new run expected): {LedgerText.Lines(generations, "; ")}");
        var (status, text) = await ContinueAsync(lost);
        Assert.True(status == HttpStatusCode.OK, text);
        var sent = Assert.Single(await lost.GenerationsAsync(), r => r.Id > generations[1].Id);
        Assert.True(sent.IsDelta && sent.PreviousResponseId == generations[1].ResponseId, LedgerText.Line(sent));
    }

    [Fact]
    public async Task A_turn_continuing_a_background_response_lost_with_its_owner_runs_it_again_and_waits_behind_it()
    {
        await using var lost = await LoseAsync(Loss.Kill);
        // No poll: the client continues at once. Its turn is refused retryably (409, or 5xx while the cluster notices the
        // loss) until the response's new run holds the conversation; sent again, it waits behind that run.
        var attempts = new List<int>();
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var (status, text) = await ContinueAsync(lost);
            attempts.Add((int)status);
            if (status == HttpStatusCode.OK) break;
            Assert.True(status == HttpStatusCode.Conflict || (int)status >= 500, $"attempt {attempts.Count} answered {(int)status}: {text}");
            Assert.True(DateTimeOffset.UtcNow < deadline, "never continued: " + string.Join(",", attempts));
            await Task.Delay(500);
        }
        output.WriteLine($"MEASURED continuing after {lost.How}: attempts {string.Join(",", attempts)}");

        var generations = await lost.GenerationsAsync();
        output.WriteLine($"MEASURED generations: {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations.Count == 3, $"{generations.Count} generations (the lost run, its new run, the continuing turn expected): {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations[2].IsDelta, "the continuing turn resent the history");
        Assert.Equal(generations[1].ResponseId, generations[2].PreviousResponseId);
        using var retrieved = await lost.Gw2.GetAsync($"{Path}/{lost.Id}");
        var final = JsonDocument.Parse(await retrieved.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, retrieved.StatusCode);
        Assert.Equal(("completed", lost.Id), (final.GetProperty("status").GetString(), final.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_background_response_whose_owner_silo_froze_completes_under_its_id_and_the_thawed_owner_changes_nothing()
    {
        // A minute's pending lifetime: a frozen owner is noticed only once it misses its probes, and polls wait on it meanwhile.
        await using var lost = await LoseAsync(Loss.Freeze, pendingLifetime: "00:01:00");
        var (final, _) = await PollUntilOverAsync(lost, DateTimeOffset.UtcNow);
        var generations = await lost.GenerationsAsync();
        output.WriteLine($"MEASURED generations: {LedgerText.Lines(generations, "; ")}");

        // The frozen owner runs again: declared dead, it stops itself; its run, if it got further, can write nothing.
        var frozen = lost.Cluster.Silos.Single(s => lost.How.EndsWith(s.Name, StringComparison.Ordinal));
        await frozen.ResumeAsync();
        await Task.Delay(TimeSpan.FromSeconds(5));
        using var again = await lost.Gw2.GetAsync($"{Path}/{lost.Id}");
        var retrieved = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        // The new run's object (its creation time is seconds after the frozen run's), not the frozen run's.
        Assert.Equal(("completed", final.GetProperty("created_at").GetInt64(), ResponseJson.OutputText(final)),
            (retrieved.GetProperty("status").GetString(), retrieved.GetProperty("created_at").GetInt64(), ResponseJson.OutputText(retrieved)));
        var (status, text) = await ContinueAsync(lost);
        Assert.True(status == HttpStatusCode.OK, text);
        var chained = (await lost.GenerationsAsync()).Where(r => r.Id > generations[^1].Id).ToList();
        var sent = Assert.Single(chained, r => r.ResponseId == JsonDocument.Parse(text).RootElement.GetProperty("id").GetString());
        Assert.True(sent.IsDelta, "the chained turn resent the history: " + LedgerText.Lines(chained, "; "));
    }

    /// <summary>
    /// Polls through the second gateway until the response is over: running (or a retryable 5xx while the cluster notices
    /// the loss), never not found, and completed under its id. Returns it, and how long it was seen running.
    /// </summary>
    private async Task<(JsonElement Final, TimeSpan Running)> PollUntilOverAsync(LostResponse lost, DateTimeOffset lostAt)
    {
        var polls = new List<string>();
        DateTimeOffset? firstRunning = null, lastRunning = null;
        JsonElement final;
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            using var poll = await lost.Gw2.GetAsync($"{Path}/{lost.Id}");
            var text = await poll.Content.ReadAsStringAsync();
            var json = JsonDocument.Parse(text).RootElement.Clone();
            var status = poll.StatusCode == HttpStatusCode.OK ? json.GetProperty("status").GetString()! : ((int)poll.StatusCode).ToString();
            polls.Add(status);
            if (status == "in_progress") (firstRunning, lastRunning) = (firstRunning ?? DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
            Assert.True(poll.StatusCode == HttpStatusCode.OK || (int)poll.StatusCode >= 500, $"poll {polls.Count} answered {(int)poll.StatusCode}: {text}");
            if (status is "completed" or "failed" or "cancelled" or "incomplete") { final = json; break; }
            Assert.True(DateTimeOffset.UtcNow < deadline, "still not over: " + string.Join(",", polls));
            await Task.Delay(250);
        }
        output.WriteLine($"MEASURED polls after {lost.How}: over {(DateTimeOffset.UtcNow - lostAt).TotalSeconds:F1}s later; " +
                         string.Join(",", polls.GroupBy(p => p).Select(g => $"{g.Key}x{g.Count()}")));
        Assert.Equal("completed", final.GetProperty("status").GetString());
        Assert.Equal(lost.Id, final.GetProperty("id").GetString());
        Assert.True(final.GetProperty("background").GetBoolean());
        Assert.False(string.IsNullOrEmpty(ResponseJson.OutputText(final)));
        return (final, lastRunning - firstRunning ?? TimeSpan.Zero);
    }

    private static async Task<(HttpStatusCode Status, string Text)> ContinueAsync(LostResponse lost)
    {
        var next = Items.Body([Items.Message("user", "and then?")], stream: false, previousResponseId: lost.Id);
        using var continued = await lost.Gw1.PostAsync(Path, Json(next));
        return (continued.StatusCode, await continued.Content.ReadAsStringAsync());
    }
}
