namespace CodexLb.Grains.Abstractions;

/// <summary>
/// Where a background response's events are streamed again from (<c>GET /v1/responses/{id}?stream=true</c>): a
/// <see cref="Refusal"/> (unknown, expired, <c>store:false</c>, or not created with <c>background:true</c>), or the
/// <see cref="ConversationKey"/> of the conversation that runs it or ran it (its events come from there, as they came,
/// while it holds them) and, once it is over, its <see cref="Final"/> object for when the conversation no longer does.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ResponseReplay
{
    [Id(0)] public ApiReply? Refusal { get; init; }

    /// <summary>The conversation that runs or ran it: follow it there (<see cref="IConversationGrain.FollowResponse"/>).</summary>
    [Id(1)] public string? ConversationKey { get; init; }

    /// <summary>Null while it runs; once over, its stored object, output included (its status says how it ended).</summary>
    [Id(2)] public byte[]? Final { get; init; }
}
