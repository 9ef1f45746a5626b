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
}
