namespace CodexLb.Grains.Conversation;

/// <summary>Runs a conversation's turns one at a time, with a small bounded number waiting behind the running one.</summary>
public sealed class TurnQueue(int waitingLimit)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _admitted;

    public bool IsIdle => Volatile.Read(ref _admitted) == 0;

    /// <summary>Admits a turn unless the queue is full; an admitted turn must <see cref="EnterAsync"/>, then <see cref="Exit"/>.</summary>
    public bool TryAdmit()
    {
        if (Interlocked.Increment(ref _admitted) <= waitingLimit + 1) return true;
        Interlocked.Decrement(ref _admitted);
        return false;
    }

    /// <summary>Waits for its turn; a turn cancelled while it waits leaves the queue (and must not call <see cref="Exit"/>).</summary>
    public async Task EnterAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _gate.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
    }

    public void Exit()
    {
        _gate.Release();
        Interlocked.Decrement(ref _admitted);
    }
}
