namespace CodexLb.Grains.Conversation;

/// <summary>Turns running on this silo's conversation grains; a draining silo waits for them before it stops.</summary>
public sealed class ActiveTurns
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Enter() => Interlocked.Increment(ref _count);

    public void Exit() => Interlocked.Decrement(ref _count);
}
