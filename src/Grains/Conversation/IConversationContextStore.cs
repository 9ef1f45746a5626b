namespace CodexLb.Grains.Conversation;

/// <summary>
/// Where a conversation's items live, written incrementally: each turn keeps a prefix and appends what it added,
/// instead of rewriting the whole history.
/// </summary>
public interface IConversationContextStore
{
    Task<List<byte[]>> LoadAsync(string conversationKey, CancellationToken cancellationToken);

    /// <summary>Truncates the stored items to <paramref name="keep"/> and appends <paramref name="appended"/>.</summary>
    Task SaveAsync(string conversationKey, int keep, IReadOnlyList<byte[]> appended, CancellationToken cancellationToken);
}
