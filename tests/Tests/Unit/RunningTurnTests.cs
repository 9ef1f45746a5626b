using System.Text;
using CodexLb.Grains.Conversation;
using CodexLb.Grains.Upstream;

namespace CodexLb.Tests.Unit;

/// <summary>Followers are woken once per burst of upstream events, not once per event, and never wait for a whole long answer.</summary>
public sealed class RunningTurnTests
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(30);

    private static UpstreamEvent Delta(int i) => new("response.output_text.delta", Encoding.UTF8.GetBytes($"{{\"type\":\"response.output_text.delta\",\"sequence_number\":{i}}}"));

    [Fact]
    public async Task A_waiting_follower_gets_a_whole_burst_in_one_answer()
    {
        var turn = new RunningTurn("t", 1);
        var waiting = turn.NextAsync("t", 0, Heartbeat, CancellationToken.None);
        turn.Relay(Delta(0), more: true);
        turn.Relay(Delta(1), more: true);
        Assert.False(waiting.IsCompleted); // the burst is not over: nobody is woken yet
        turn.Relay(Delta(2));
        var answer = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, answer.Events.Length);
        Assert.False(answer.Ended);
    }

    /// <summary>A conversation's recent-turn records keep each turn's outcome: every turn must not keep a string of its own.</summary>
    [Theory]
    [InlineData("response.completed", "completed")]
    [InlineData("response.incomplete", "incomplete")]
    [InlineData("response.failed", "failed")]
    public void Turns_that_end_alike_share_one_outcome_string(string terminal, string outcome)
    {
        var (first, second) = (new RunningTurn("a", 1), new RunningTurn("b", 2));
        first.Relay(new UpstreamEvent(terminal, Encoding.UTF8.GetBytes($$"""{"type":"{{terminal}}"}""")));
        second.Relay(new UpstreamEvent(terminal, Encoding.UTF8.GetBytes($$"""{"type":"{{terminal}}"}""")));
        Assert.Equal(outcome, first.Outcome);
        Assert.Same(first.Outcome, second.Outcome);
    }

    /// <summary>A gateway routes by the created event's id as the owner read it (the client's id), without reading the event.</summary>
    [Fact]
    public async Task The_created_event_carries_the_response_id_and_no_other_event_does()
    {
        var turn = new RunningTurn("t", 1) { ResponseId = "resp_1" };
        turn.Relay(new UpstreamEvent("response.created", Encoding.UTF8.GetBytes("""{"type":"response.created","response":{"id":"resp_1"}}""")));
        turn.Relay(Delta(1));
        var answer = await turn.NextAsync("t", 0, Heartbeat, CancellationToken.None);
        Assert.Equal(["resp_1", null], answer.Events.Select(e => e.CreatedId));
    }

    [Fact]
    public async Task A_long_burst_wakes_the_follower_every_128_events()
    {
        var turn = new RunningTurn("t", 1);
        var waiting = turn.NextAsync("t", 0, Heartbeat, CancellationToken.None);
        for (var i = 0; i < 127; i++) turn.Relay(Delta(i), more: true);
        Assert.False(waiting.IsCompleted);
        turn.Relay(Delta(127), more: true);
        Assert.Equal(128, (await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Events.Length);
    }

    [Fact]
    public async Task The_end_of_a_turn_answers_what_is_left_and_says_it_ended()
    {
        var turn = new RunningTurn("t", 1);
        turn.Relay(Delta(0), more: true);
        var waiting = turn.NextAsync("t", 1, Heartbeat, CancellationToken.None);
        turn.Cancelled();
        turn.Complete(DateTimeOffset.UtcNow);
        var answer = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(answer.Events);
        Assert.True(answer.Ended);
        Assert.False(turn.StillRead);
    }

    [Fact]
    public async Task A_quiet_turn_answers_a_heartbeat_and_a_follower_that_stopped_midway_counts_as_still_reading()
    {
        var turn = new RunningTurn("t", 1);
        turn.Relay(Delta(0));
        Assert.Single((await turn.NextAsync("t", 0, Heartbeat, CancellationToken.None)).Events);
        Assert.True(turn.StillRead);
        var quiet = await turn.NextAsync("t", 1, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.True(Assert.Single(quiet.Events).IsHeartbeat);
    }

    [Fact]
    public async Task Each_wait_of_a_quiet_turn_lasts_its_heartbeat_and_an_event_ends_the_wait_at_once()
    {
        var turn = new RunningTurn("t", 1);
        var heartbeat = TimeSpan.FromMilliseconds(200);
        for (var i = 0; i < 3; i++)
        {
            // A heartbeat deadline spends the signal it completed: the next wait waits again instead of answering at once.
            var started = System.Diagnostics.Stopwatch.StartNew();
            var quiet = await turn.NextAsync("t", 0, heartbeat, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(Assert.Single(quiet.Events).IsHeartbeat);
            Assert.True(started.Elapsed >= heartbeat - TimeSpan.FromMilliseconds(20), $"wait {i} answered after {started.Elapsed}");
        }
        var waiting = turn.NextAsync("t", 0, TimeSpan.FromMinutes(1), CancellationToken.None).AsTask();
        turn.Relay(Delta(0));
        Assert.False(Assert.Single((await waiting.WaitAsync(TimeSpan.FromSeconds(30))).Events).IsHeartbeat);
        Assert.False(turn.IsScheduled); // an answered wait leaves no deadline behind
    }

    [Fact]
    public async Task A_wait_given_a_token_by_a_gateway_of_the_build_before_ends_when_it_is_cancelled()
    {
        var turn = new RunningTurn("t", 1);
        using var client = new CancellationTokenSource();
        var waiting = turn.NextAsync("t", 0, TimeSpan.FromMinutes(1), client.Token).AsTask();
        await client.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void The_provider_is_stopped_only_when_the_last_client_of_a_turn_detaches()
    {
        var turn = new RunningTurn("first", 1);
        turn.Attach("retry"); // a client's retry through another gateway follows the same turn
        turn.Attach("retry"); // attaching twice is still one client
        Assert.False(turn.Detach("unknown"));
        Assert.False(turn.Detach("first"));
        Assert.False(turn.Detach("first")); // already gone: "retry" still follows
        Assert.True(turn.Detach("retry"));
    }

    [Fact]
    public async Task A_turn_is_still_read_until_every_follower_read_its_end()
    {
        var turn = new RunningTurn("first", 1);
        turn.Relay(Delta(0));
        await turn.NextAsync("first", 0, Heartbeat, CancellationToken.None);
        await turn.NextAsync("retry", 0, Heartbeat, CancellationToken.None);
        turn.Relay(new UpstreamEvent("response.completed", Encoding.UTF8.GetBytes("""{"type":"response.completed"}""")));
        await turn.NextAsync("first", 1, Heartbeat, CancellationToken.None);
        Assert.True(turn.StillRead); // the retry's follower has not read the end
        await turn.NextAsync("retry", 1, Heartbeat, CancellationToken.None);
        Assert.False(turn.StillRead);
    }
}
