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

    /// <summary>
    /// Adds items at the end (a new <see cref="ConversationRecord.Version"/>); with <paramref name="head"/>, a response's
    /// input and output, which becomes the head when the conversation was still at the version its turn started from (and
    /// is never added twice: a retried call). False when the conversation was deleted meanwhile.
    /// </summary>
    Task<bool> AppendAsync(string tenant, string id, IReadOnlyList<byte[]> items, ConversationHeadMove? head = null);

    Task<List<byte[]>?> ItemsAsync(string tenant, string id);

    /// <summary>Removes one item, as <see cref="ItemsAsync"/> returned it (a new <see cref="ConversationRecord.Version"/>).</summary>
    Task<bool> RemoveItemAsync(string tenant, string id, byte[] item);
}

/// <summary>A conversation object's own fields: when it was made (unix seconds) and its metadata (a JSON object, or null).</summary>
public sealed record ConversationRecord(long CreatedAt, string? MetadataJson)
{
    /// <summary>Counts the changes to its items (each add and each removal).</summary>
    public long Version { get; init; }

    /// <summary>The last response that ran in the conversation and became its head, or null.</summary>
    public string? Head { get; init; }

    /// <summary>The <see cref="Version"/> the head's items were added at.</summary>
    public long HeadVersion { get; init; } = -1;

    /// <summary>Where the head's turn started: the head it continued, or null when it went with the items.</summary>
    public string? HeadBase { get; init; }

    /// <summary>The fingerprint of the head's client input (<c>ItemFingerprint.OfSequence</c>).</summary>
    public ulong HeadInput { get; init; }

    /// <summary>When the head was added (unix milliseconds).</summary>
    public long HeadAddedAtMs { get; init; }

    /// <summary>How many items the head added (its input and output): the last ones, while it is <see cref="CurrentHead"/>.</summary>
    public int HeadItemCount { get; init; }

    /// <summary>
    /// The head while the items are still exactly what it left (its context, input and output): a response in the
    /// conversation then continues it as its <c>previous_response_id</c>. Null after any other change.
    /// </summary>
    public string? CurrentHead => Head is not null && HeadVersion == Version ? Head : null;
}

/// <summary>
/// A response becoming a conversation's head: its id, the version of the conversation its turn started from, the head that
/// turn continued (null: it went with the items), its client input's fingerprint and when it is added (unix ms).
/// </summary>
public readonly record struct ConversationHeadMove(string ResponseId, long StartedAtVersion, string? Base = null, ulong InputHash = 0, long AddedAtMs = 0);
