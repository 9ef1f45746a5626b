using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// An activation whose conversation a newer one claimed (its write was fenced) owns nothing any more: it takes no new
/// turn, and it goes once the followers of the turn it failed have read how that turn ended — deactivating at once, it
/// would leave a follower asking an empty new activation, which could only say the turn was lost — or after
/// <see cref="FencedGrace"/> when nobody comes for it.
/// </summary>
public sealed partial class ConversationGrain
{
    private static readonly TimeSpan FencedGrace = TimeSpan.FromSeconds(5);

    private RunningTurn? _fencedTurn;

    private void Retire(RunningTurn failed)
    {
        _fencedTurn = failed;
        this.RegisterGrainTimer(_ => { this.DeactivateOnIdle(); return Task.CompletedTask; },
            new GrainTimerCreationOptions(FencedGrace, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = false });
    }

    /// <summary>A new turn on a fenced activation goes to the conversation's current owner: this one steps aside for it.</summary>
    private OwnerDeactivatingException StepAside()
    {
        this.DeactivateOnIdle();
        return new OwnerDeactivatingException();
    }

    /// <summary>The next events of a turn; on a fenced activation, it goes once its failed turn's followers have the end.</summary>
    private ValueTask<TurnEvents> NextOf(RunningTurn turn, string turnId, int from, CancellationToken cancellationToken)
    {
        var next = turn.NextAsync(turnId, from, _options.HeartbeatInterval, cancellationToken);
        return _fencedTurn is null ? next : RetireAfterAsync(next);
    }

    private async ValueTask<TurnEvents> RetireAfterAsync(ValueTask<TurnEvents> next)
    {
        var answer = await next;
        if (_fencedTurn is { Delivered: true, StillRead: false }) this.DeactivateOnIdle();
        return answer;
    }
}
