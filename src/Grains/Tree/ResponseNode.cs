namespace CodexLb.Grains.Tree;

/// <summary>
/// One completed response, written once and never changed: what the turn added to its parent's context (the new input
/// items, then the output items), so any node's context is its ancestors' items in order. A node with no parent is a
/// root: a conversation's first turn, a turn that resent everything, or a compaction (its context starts at the
/// compaction item). <see cref="Chain"/> is the <c>ContextChain</c> of the node's whole context.
/// <see cref="OutputIds"/> are the ids of the node's last items, its outputs ("" where one has none), kept when the client
/// stores its responses: it may then send them back as <c>item_reference</c>s, which are matched by these ids.
/// </summary>
public sealed record ResponseNode(
    string Id,
    string? ParentId,
    string ConversationKey,
    int ItemCount,
    ulong Chain,
    IReadOnlyList<byte[]> Added,
    bool Synthetic = false,
    byte[]? Response = null,
    int OutputCount = 0,
    IReadOnlyList<string>? OutputIds = null)
{
    /// <summary>The tenant the node belongs to; every lookup is scoped to it.</summary>
    public string Tenant => Abstractions.ConversationKey.TenantOf(ConversationKey);
}

/// <summary>
/// A conversation's only mutable record. <see cref="Epoch"/> fences writers: each activation claims a new epoch, and a
/// write carrying an older one changes nothing.
/// </summary>
public sealed record ConversationHead(long Epoch, string? ResponseId, int Turns);

/// <summary>A node and all its ancestors, newest first, or why there is none (unknown, expired, or pending: started, not completed).</summary>
public sealed record NodePath(Abstractions.ResponseStatus Status, IReadOnlyList<ResponseNode> Nodes)
{
    /// <summary>The whole context of the path's newest node: every node's items, oldest node first.</summary>
    public List<byte[]> ContextItems()
    {
        var items = new List<byte[]>();
        for (var i = Nodes.Count - 1; i >= 0; i--) items.AddRange(Nodes[i].Added);
        return items;
    }

    public static readonly NodePath Unknown = new(Abstractions.ResponseStatus.Unknown, []);
    public static readonly NodePath Expired = new(Abstractions.ResponseStatus.Expired, []);
    public static readonly NodePath Pending = new(Abstractions.ResponseStatus.Pending, []);
}

/// <summary>A response as retrieve sees it: its envelope and output, or that it is pending, expired or unknown (never issued or deleted).</summary>
public sealed record StoredResponse(Abstractions.ResponseStatus Status, string? ConversationKey, byte[]? Envelope, IReadOnlyList<byte[]> Outputs, bool Pending = false)
{
    public static readonly StoredResponse Unknown = new(Abstractions.ResponseStatus.Unknown, null, null, []);
    public static readonly StoredResponse Expired = new(Abstractions.ResponseStatus.Expired, null, null, []);
}
