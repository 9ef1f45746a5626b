using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// A started turn's events, with the owner watchdog: the grain sends at least a heartbeat every 500 ms, so a pull that
/// brings nothing within the owner timeout means the owner is gone (an external client would otherwise wait out the
/// whole Orleans ResponseTimeout). Heartbeats are consumed here and never reach a client.
/// </summary>
public sealed class TurnStream(IAsyncEnumerator<TurnEvent>? events, TimeSpan ownerTimeout) : IAsyncDisposable
{
    private TurnEvent? _current;
    private bool _abandoned;

    public TurnEvent Current => _current!;

    public static TurnStream Rejected(TurnRejection rejection) => new(null, TimeSpan.Zero) { _current = TurnEvent.Rejected(rejection) };

    /// <exception cref="OwnerUnreachableException">No event or heartbeat within the owner timeout.</exception>
    public async ValueTask<bool> MoveNextAsync()
    {
        if (events is null) return false;
        while (true)
        {
            var next = events.MoveNextAsync();
            bool more;
            if (next.IsCompletedSuccessfully) more = next.Result;
            else
            {
                try
                {
                    more = await next.AsTask().WaitAsync(ownerTimeout);
                }
                catch (TimeoutException)
                {
                    _abandoned = true;
                    throw new OwnerUnreachableException(ownerTimeout);
                }
            }
            if (!more) return false;
            if (events.Current.IsHeartbeat) continue;
            _current = events.Current;
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (events is null) return;
        if (_abandoned)
        {
            // Disposing talks to the owner; an unreachable one would hold us for the full ResponseTimeout.
            _ = events.DisposeAsync().AsTask().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            return;
        }
        try
        {
            await events.DisposeAsync();
        }
        catch (Exception)
        {
            // The grain side may be gone; its turn finishes (or failed) on its own.
        }
    }
}

/// <summary>The conversation's owner answered nothing, not even a heartbeat, within the owner timeout.</summary>
public sealed class OwnerUnreachableException(TimeSpan timeout) : TimeoutException($"The conversation owner sent nothing for {timeout}.");
