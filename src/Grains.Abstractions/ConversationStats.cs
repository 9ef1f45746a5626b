namespace CodexLb.Grains.Abstractions;

/// <summary>What a conversation has sent upstream, so context growth can be watched per conversation.</summary>
[GenerateSerializer, Immutable]
public sealed record ConversationStats
{
    [Id(0)] public string? LastResponseId { get; init; }
    [Id(1)] public int Turns { get; init; }
    [Id(2)] public int ContextItems { get; init; }
    [Id(3)] public int FullSends { get; init; }
    [Id(4)] public int DeltaSends { get; init; }
    [Id(5)] public int Replays { get; init; }
    [Id(6)] public int UpstreamConnects { get; init; }
    [Id(7)] public long LastInputTokens { get; init; }
    [Id(8)] public long LastCachedTokens { get; init; }
    [Id(9)] public long BytesSent { get; init; }
    [Id(10)] public bool SocketOpen { get; init; }

    /// <summary>The most recent turns of this activation, oldest first.</summary>
    [Id(11)] public IReadOnlyList<TurnRecord> RecentTurns { get; init; } = [];
}
