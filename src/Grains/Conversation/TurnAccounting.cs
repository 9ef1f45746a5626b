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

    /// <summary>Generating requests sent upstream for this client turn and not refused by the provider (each a paid generation).</summary>
    public int Generations { get; set; }

    /// <summary>Why this run may repeat a generation an earlier run paid for (see <c>ConversationGrain.RerunOf</c>); null for a first run.</summary>
    public string? Rerun { get; set; }

    /// <summary>The client turn's generations: this run's, and the one a re-run's earlier run is presumed to have paid for.</summary>
    public int GenerationsPerClientTurn => Generations + (Rerun is null ? 0 : 1);
}
