namespace CodexLb.Grains.Conversation;

/// <summary>What one turn sent upstream, gathered while it runs and recorded as a <c>TurnRecord</c> when it ends.</summary>
public sealed class TurnAccounting
{
    public string? ResponseId { get; set; }
    public bool SentDelta { get; set; }
    public int FullSends { get; set; }
    public int Replays { get; set; }
    public long InputTokens { get; set; }
    public long CachedTokens { get; set; }
    public long OutputTokens { get; set; }
    public long BytesSent { get; set; }
    public int ItemsSent { get; set; }

    /// <summary>Responses the provider created for this client turn (each a paid generation).</summary>
    public int Generations { get; set; }
}
