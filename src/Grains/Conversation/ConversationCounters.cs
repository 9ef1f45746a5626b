namespace CodexLb.Grains.Conversation;

/// <summary>What this activation sent upstream (reported by GetStats; the metrics carry the cluster-wide totals).</summary>
public sealed class ConversationCounters
{
    public int FullSends { get; set; }
    public int DeltaSends { get; set; }
    public int Replays { get; set; }
    public int UpstreamConnects { get; set; }
    public long LastInputTokens { get; set; }
    public long LastCachedTokens { get; set; }
    public long BytesSent { get; set; }
}
