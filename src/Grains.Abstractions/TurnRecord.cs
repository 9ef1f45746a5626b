namespace CodexLb.Grains.Abstractions;

/// <summary>What one turn cost upstream: how the client sent it and how the bridge forwarded it.</summary>
/// <remarks>A struct: a conversation keeps its last 64 in a queue, and an object per turn that lives 64 turns was one more
/// thing for every garbage collection to move.</remarks>
[GenerateSerializer, Immutable]
public readonly record struct TurnRecord
{
    public TurnRecord()
    {
    }

    [Id(0)] public string? ResponseId { get; init; }
    /// <summary>The client sent <c>previous_response_id</c> (a delta client) rather than its full history.</summary>
    [Id(1)] public bool ClientAnchored { get; init; }
    [Id(2)] public int ClientItems { get; init; }
    /// <summary>The last upstream send of the turn was a delta (anchored on the socket's latest response).</summary>
    [Id(3)] public bool SentDelta { get; init; }
    [Id(4)] public int FullSends { get; init; }
    [Id(5)] public int Replays { get; init; }
    [Id(6)] public long UpstreamInputTokens { get; init; }
    [Id(7)] public long CachedTokens { get; init; }
    [Id(8)] public long BytesSent { get; init; }
    /// <summary>completed, failed, incomplete, rejected:{code}, stream_incomplete.</summary>
    [Id(9)] public string Outcome { get; init; } = "";
    /// <summary>Input items of the last upstream send of the turn (what the provider was charged for as new).</summary>
    [Id(10)] public int ItemsSent { get; init; }
    /// <summary>Generations of the client turn as its owner counts them (<c>codexlb_turn_generations</c>; 1 is the goal).</summary>
    [Id(11)] public int Generations { get; init; }
}
