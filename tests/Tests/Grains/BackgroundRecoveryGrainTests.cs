using System.Text;
using System.Text.Json;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using CodexLb.UpstreamSimulator;
using Orleans.Serialization;

namespace CodexLb.Tests.Grains;

/// <summary>
/// A background response whose owner was lost mid-generation, as its next owner sees it: the store holds what it takes
/// to run it again (written here as the lost activation would have), and its followers come back with positions in the
/// lost run.
/// </summary>
[Collection(GrainClusterCollection.Name)]
public sealed class BackgroundRecoveryGrainTests(GrainClusterFixture fixture)
{
    private const string Tenant = "recovery-tests";
    private const long NewRunOffset = CodexLb.Grains.Conversation.ResumedResponse.SequenceGap; // the first new run's numbering

    /// <summary>A conversation whose owner was lost while it generated <paramref name="responseId"/> in the background.</summary>
    private async Task<IConversationGrain> LostWhileGeneratingAsync(string responseId, DateTimeOffset? refusedSince = null)
    {
        var key = ConversationKey.Create(Tenant, "session", Guid.NewGuid().ToString("N"));
        var body = Items.Body([Items.Message("user", "a long background answer for " + responseId)], stream: true);
        body.Remove("store"); // stored, as the API's default
        body["background"] = true;
        var created = Encoding.UTF8.GetBytes(
            $$"""{"id":"{{responseId}}","object":"response","created_at":1765000000,"status":"in_progress","background":true,"model":"gpt-5","output":[]}""");
        var resumables = fixture.Cluster.Client.ServiceProvider.GetRequiredService<Serializer<ResumableResponse>>();
        var saved = resumables.SerializeToArray(new ResumableResponse { Request = Turns.Request(body), Created = created, RefusedSince = refusedSince });
        await fixture.Tree.MarkResumableAsync(key, responseId, saved, CancellationToken.None);
        return fixture.Grains.GetGrain<IConversationGrain>(key);
    }

    private static long Sequence(TurnEvent e) => JsonDocument.Parse(e.Data).RootElement.GetProperty("sequence_number").GetInt64();

    /// <summary>
    /// Reads <paramref name="follower"/>'s events of the response as a gateway's follower does (each call from the events
    /// taken so far, counting from <paramref name="taken"/>) until at least <paramref name="count"/>, or the end; and how
    /// many answers it took.
    /// </summary>
    private static async Task<(List<TurnEvent> Events, int Answers)> ReadAsync(IConversationGrain grain, string responseId, string follower, int taken, int count)
    {
        var read = new List<TurnEvent>();
        var answers = 0;
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (read.Count < count)
        {
            var next = await grain.FollowResponse(responseId, follower, taken + read.Count, giveUp.Token);
            answers++;
            read.AddRange(next.Events.Where(e => !e.IsHeartbeat));
            if (next.Ended) break;
        }
        return (read, answers);
    }

    [Fact]
    public async Task A_follower_of_the_lost_run_reads_the_live_new_run_whole_even_when_another_call_started_it_first()
    {
        var id = "resp_recovery" + Guid.NewGuid().ToString("N");
        var grain = await LostWhileGeneratingAsync(id);
        fixture.Simulator.Faults.Add((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(40)) with { TextDeltas = 30 }).WhenTextContains(id).Times(1));

        // A retrieve starts the new run; another client (a replay by id) reads its first events.
        Assert.NotNull(await grain.RecoverResponse(id, cancel: false));
        var (other, _) = await ReadAsync(grain, id, "other-client", taken: 0, count: 6);
        Assert.Equal("response.created", other[0].Type);

        // The lost run's follower comes back having taken 7 events there, and reads on as the new run streams: the new
        // run whole, from its response.created, numbered past every number of the lost run, none missing and none twice.
        var (back, answers) = await ReadAsync(grain, id, "lost-run-follower", taken: 7, count: int.MaxValue);
        Assert.Equal("response.created", back[0].Type);
        Assert.Equal(id, JsonDocument.Parse(back[0].Data).RootElement.GetProperty("response").GetProperty("id").GetString());
        Assert.Equal(Enumerable.Range(0, back.Count).Select(n => NewRunOffset + n), back.Select(Sequence));
        Assert.Equal("response.completed", back[^1].Type);
        Assert.Equal(30, back.Count(e => e.Type == "response.output_text.delta"));
        Assert.True(answers > 2, $"the new run was read in {answers} answers: it should still have been streaming");
    }
    [Fact]
    public async Task New_runs_refused_before_the_provider_is_asked_do_not_use_up_the_runs_of_a_lost_response()
    {
        var id = "resp_refused" + Guid.NewGuid().ToString("N");
        var grain = await LostWhileGeneratingAsync(id);
        // The new conversation owner has no socket yet: each new run connects, and the provider refuses four handshakes,
        // more than the three runs a lost response gets.
        fixture.Simulator.Faults.Add(Fault.RefuseHandshake(503).Times(4));
        try
        {
            for (var refused = 0; refused < 4; refused++)
            {
                Assert.NotNull(await grain.RecoverResponse(id, cancel: false));
                var (events, _) = await ReadAsync(grain, id, "poller-" + refused, taken: 0, count: 1);
                Assert.Equal("upstream_unavailable", Assert.Single(events).Rejection?.Code);
                await WaitUntilNotRunningAsync(grain, id);
            }
        }
        finally
        {
            fixture.Simulator.Faults.Clear(); // none left for the next test, whatever happened here
        }

        // Still pending, and its next run is its first counted one: it runs, under its id, numbered as the first new run.
        Assert.NotNull(await grain.RecoverResponse(id, cancel: false));
        var (run, _) = await ReadAsync(grain, id, "poller-after", taken: 0, count: int.MaxValue);
        Assert.Equal("response.completed", run[^1].Type);
        Assert.Equal(NewRunOffset, Sequence(run[0]));
        var stored = await fixture.Grains.GetGrain<IResponsesApiGrain>(0).Retrieve(Tenant, id);
        Assert.Equal("completed", JsonDocument.Parse(stored.Body).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_refused_new_run_ends_even_when_the_store_fails_to_note_the_refusal_and_the_response_runs_at_the_next_ask()
    {
        var id = "resp_refused_unnoted" + Guid.NewGuid().ToString("N");
        var grain = await LostWhileGeneratingAsync(id);
        fixture.Simulator.Faults.Add(Fault.RefuseHandshake(503).Times(1));
        fixture.FailResumableWriteOnce(id); // the note of the refusal, as the refused run ends
        try
        {
            Assert.NotNull(await grain.RecoverResponse(id, cancel: false));
            var (events, _) = await ReadAsync(grain, id, "poller", taken: 0, count: 1);
            Assert.Equal("upstream_unavailable", Assert.Single(events).Rejection?.Code);
            await WaitUntilNotRunningAsync(grain, id); // the run ended: its followers and the conversation's drain count know
        }
        finally
        {
            fixture.Simulator.Faults.Clear();
        }

        Assert.NotNull(await grain.RecoverResponse(id, cancel: false));
        var (run, _) = await ReadAsync(grain, id, "poller-after", taken: 0, count: int.MaxValue);
        Assert.Equal("response.completed", run[^1].Type);
    }

    [Fact]
    public async Task A_lost_response_whose_new_runs_were_refused_for_minutes_ends_failed_with_a_retryable_code_and_is_not_run()
    {
        var id = "resp_refused_long" + Guid.NewGuid().ToString("N");
        var grain = await LostWhileGeneratingAsync(id, refusedSince: DateTimeOffset.UtcNow - TimeSpan.FromMinutes(6));

        Assert.Null(await grain.RecoverResponse(id, cancel: false));
        var stored = JsonDocument.Parse((await fixture.Grains.GetGrain<IResponsesApiGrain>(0).Retrieve(Tenant, id)).Body).RootElement;
        Assert.Equal("failed", stored.GetProperty("status").GetString());
        Assert.Equal("bridge_owner_unreachable", stored.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("no capacity", stored.GetProperty("error").GetProperty("message").GetString());
        Assert.Null(await grain.GetRunningResponse(id)); // not run again
    }

    private static async Task WaitUntilNotRunningAsync(IConversationGrain grain, string responseId)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await grain.GetRunningResponse(responseId) is not null) await Task.Delay(20, giveUp.Token);
    }
}
