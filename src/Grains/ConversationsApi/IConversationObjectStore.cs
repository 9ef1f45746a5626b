namespace CodexLb.Grains.ConversationsApi;

/// <summary>
/// Where Conversations API objects live: per tenant, a conversation's creation time, metadata, a counter that numbers its
/// items, and its items in order (each kept with its id). Every operation on a missing conversation answers null/false.
/// </summary>
public interface IConversationObjectStore
{
    Task CreateAsync(string tenant, string id, ConversationRecord record, IReadOnlyList<byte[]> items);

    /// <summary>The conversation (and, in the store that expires, a refresh of its lifetime), or null.</summary>
    Task<ConversationRecord?> LoadAsync(string tenant, string id);

    Task<ConversationRecord?> SetMetadataAsync(string tenant, string id, string metadataJson);

    Task<bool> DeleteAsync(string tenant, string id);

    /// <summary>Numbers for <paramref name="count"/> new items: the first, or null when there is no such conversation.</summary>
    Task<long?> ReserveAsync(string tenant, string id, int count);

    /// <summary>Adds items at the end; false when the conversation was deleted meanwhile.</summary>
    Task<bool> AppendAsync(string tenant, string id, IReadOnlyList<byte[]> items);

    Task<List<byte[]>?> ItemsAsync(string tenant, string id);

    /// <summary>Removes one item, as <see cref="ItemsAsync"/> returned it.</summary>
    Task<bool> RemoveItemAsync(string tenant, string id, byte[] item);
}

/// <summary>A conversation object's own fields: when it was made (unix seconds) and its metadata (a JSON object, or null).</summary>
public sealed record ConversationRecord(long CreatedAt, string? MetadataJson);
