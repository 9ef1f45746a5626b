using CodexLb.Gateway.Health;
using CodexLb.Grains.Conversation;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Lets the drain wait for turns running on this silo's grains, not only for those this process relays, and stops those
/// grains from starting new ones (whichever gateway sends them: this process's readiness only stops its own).
/// </summary>
public sealed class SiloTurns(ActiveTurns turns) : IInFlightWork
{
    public int InFlight => turns.Count;

    public void BeginDrain() => turns.BeginDrain();
}
