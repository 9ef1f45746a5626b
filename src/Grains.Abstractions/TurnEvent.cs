namespace CodexLb.Grains.Abstractions;

/// <summary>
/// One event of a turn: the upstream JSON payload as received (never re-serialized), with its <c>type</c>.
/// A <see cref="Rejection"/> can only be the first event: the turn failed before anything reached the client.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TurnEvent([property: Id(0)] string Type, [property: Id(1)] byte[] Data)
{
    [Id(2)] public TurnRejection? Rejection { get; init; }

    /// <summary>
    /// On a <c>response.completed</c>, what its owner read from it to persist the turn: a gateway takes its id and usage
    /// from here instead of parsing the whole response again. Absent on any other event (and from an older owner).
    /// </summary>
    [Id(3)] public TurnCompletion? Completion { get; init; }

    /// <summary>
    /// On a <c>response.created</c>, the response's id as its owner read it (the id its client knows): a gateway routes by
    /// it without reading the event again. Absent on any other event (and from an older owner: read the event then).
    /// </summary>
    [Id(4)] public string? CreatedId { get; init; }

    public static TurnEvent Rejected(TurnRejection rejection) => new("error", []) { Rejection = rejection };

    /// <summary>
    /// Sent by the grain while the provider is silent, so a gateway can tell a quiet turn from a dead owner. Never
    /// relayed to clients.
    /// </summary>
    public static readonly TurnEvent Heartbeat = new(HeartbeatType, []);

    public const string HeartbeatType = "codexlb.heartbeat";

    public bool IsHeartbeat => Type == HeartbeatType;
}

/// <summary>A completed response's id and token usage (null where the provider sent none).</summary>
[GenerateSerializer, Immutable]
public sealed record TurnCompletion(
    [property: Id(0)] string ResponseId,
    [property: Id(1)] long? InputTokens,
    [property: Id(2)] long? CachedTokens,
    [property: Id(3)] long? OutputTokens);

/// <summary>An error to answer with before any byte was sent: an HTTP status and an OpenAI-style error.</summary>
[GenerateSerializer, Immutable]
public sealed record TurnRejection(
    [property: Id(0)] int Status,
    [property: Id(1)] string Code,
    [property: Id(2)] string Message,
    [property: Id(3)] string ErrorType,
    [property: Id(4)] string? Param,
    [property: Id(5)] int? RetryAfterSeconds);
