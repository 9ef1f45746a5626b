namespace CodexLb.Grains.Conversation;

/// <summary>
/// Turns running on this silo's conversation grains; a draining silo waits for them before it stops, and from the moment
/// it drains its grains start no new turn (<see cref="Draining"/>): one started then could lose its owner mid-stream when
/// the silo stops, and its client's retry would run it a second time.
/// </summary>
public sealed class ActiveTurns
{
    private int _count;
    private volatile bool _draining;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The silo is stopping: new turns go to a conversation activation on another silo.</summary>
    public bool Draining => _draining;

    public void BeginDrain() => _draining = true;

    /// <summary>A drain called off (a test, or a host whose stop was cancelled).</summary>
    public void EndDrain() => _draining = false;

    public void Enter() => Interlocked.Increment(ref _count);

    public void Exit() => Interlocked.Decrement(ref _count);
}
