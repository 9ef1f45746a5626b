namespace CodexLb.Grains.Abstractions;

/// <summary>
/// What one call for a turn's events answers: every event the owner had from the caller's position on when it answered
/// (a burst the provider sent together comes as one batch), or only <see cref="TurnEvent.Heartbeat"/> while the turn is
/// quiet. <see cref="Ended"/>: the turn is over and these are its last events; the caller asks no more.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TurnEvents([property: Id(0)] TurnEvent[] Events, [property: Id(1)] bool Ended)
{
    public static readonly TurnEvents Quiet = new([TurnEvent.Heartbeat], false);
}
