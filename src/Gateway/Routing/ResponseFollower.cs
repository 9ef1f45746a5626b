using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Follows a background response on the conversation that runs it, for a client streaming it again by id: the owner's
/// answers one burst at a time, heartbeats included (a quiet response is told from a dead owner by them), each call
/// starting after the events already taken. A call the owner does not answer within the owner timeout is asked again
/// with the retry policy of <see cref="OwnerFailures"/>; a new activation of a lost owner answers that it holds no such
/// response (a rejection), and the caller reads how it ended from the store.
/// </summary>
public sealed class ResponseFollower(IConversationGrain grain, string responseId, string follower, TimeSpan ownerTimeout, CancellationToken aborted)
    : IDisposable
{
    private OwnerWatch? _watch;

    /// <summary>Events taken from the owner so far: where the next call starts.</summary>
    public int Taken { get; private set; }

    /// <exception cref="OwnerUnreachableException">The owner stayed silent through every retry.</exception>
    public async ValueTask<TurnEvents> NextAsync()
    {
        var answer = await OwnerFailures.Retry.ExecuteAsync(static (self, _) => self.AskAsync(), this, aborted);
        foreach (var turnEvent in answer.Events)
            if (!turnEvent.IsHeartbeat) Taken++;
        return answer;
    }

    private async ValueTask<TurnEvents> AskAsync()
    {
        aborted.ThrowIfCancellationRequested(); // no call for a client that is gone (the call carries no token to refuse it)
        try
        {
            return await OwnerWatch.Watch(ref _watch, ownerTimeout, aborted, grain.FollowResponse(responseId, follower, Taken));
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            Dispose(); // an expired watch belongs to its abandoned call: never reused
            throw;
        }
    }

    public void Dispose() => OwnerWatch.Abandon(ref _watch);
}
