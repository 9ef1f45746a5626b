namespace CodexLb.Grains.Conversation;

/// <summary>The persisted chain state of a conversation (the items themselves live in the context store).</summary>
[GenerateSerializer]
public sealed class ConversationState
{
    [Id(0)] public string? LastResponseId { get; set; }

    /// <summary>How many items the conversation has; the context store may hold more if a save outran this write.</summary>
    [Id(1)] public int ItemCount { get; set; }

    /// <summary>Recent completed response ids and the item count of the context they stand for (retries fork from them).</summary>
    [Id(2)] public List<AnchorPoint> Anchors { get; set; } = [];

    [Id(3)] public int Turns { get; set; }
    [Id(4)] public int FullSends { get; set; }
    [Id(5)] public int DeltaSends { get; set; }
    [Id(6)] public int Replays { get; set; }
    [Id(7)] public int UpstreamConnects { get; set; }
    [Id(8)] public long LastInputTokens { get; set; }
    [Id(9)] public long LastCachedTokens { get; set; }
    [Id(10)] public long BytesSent { get; set; }

    /// <summary>Which upstream account holds this conversation's provider-side state (a hash, never the key).</summary>
    [Id(11)] public string? UpstreamAccount { get; set; }
}

[GenerateSerializer, Immutable]
public sealed record AnchorPoint([property: Id(0)] string ResponseId, [property: Id(1)] int ItemCount);
