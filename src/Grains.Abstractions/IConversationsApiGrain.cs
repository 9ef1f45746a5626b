namespace CodexLb.Grains.Abstractions;

/// <summary>
/// The Conversations API for gateways: conversation objects and the items added to them, kept per tenant in the store
/// (a tenant reads only its own), as the OpenAI Agents SDK's <c>OpenAIConversationsSession</c> uses them; and the two
/// steps of a response that names one (<see cref="Continue"/>, <see cref="AddResponse"/>). Items arrive checked by the
/// gateway (<c>ConversationRequest</c>). A stateless worker on each silo.
/// </summary>
public interface IConversationsApiGrain : IGrainWithIntegerKey
{
    Task<ApiReply> Create(string tenant, byte[][] items, string? metadataJson);

    Task<ApiReply> Retrieve(string tenant, string conversationId);

    Task<ApiReply> Update(string tenant, string conversationId, string metadataJson);

    Task<ApiReply> Delete(string tenant, string conversationId);

    Task<ApiReply> AddItems(string tenant, string conversationId, byte[][] items);

    Task<ApiReply> ListItems(string tenant, string conversationId, int limit, bool ascending, string? after);

    Task<ApiReply> RetrieveItem(string tenant, string conversationId, string itemId);

    Task<ApiReply> DeleteItem(string tenant, string conversationId, string itemId);

    /// <summary>
    /// Where a response in the conversation starts: its head, or all its items as input (always, with
    /// <paramref name="fromItems"/>: the head's id is gone); null when there is no such conversation. A request whose input
    /// (<paramref name="inputHash"/>, <c>ItemFingerprint.OfSequence</c>) is the head's own, within seconds of the head's add,
    /// is taken for its client's retry (a gateway that added the head died before the client heard it): it starts where
    /// the head's turn started, so the owner answers it with the head again instead of generating it twice.
    /// </summary>
    Task<ConversationStart?> Continue(string tenant, string conversationId, bool fromItems, ulong inputHash);

    /// <summary>
    /// Adds a completed response's input and output items, once; the response becomes the head when the conversation is
    /// still at the version its turn started from. False when the conversation is gone.
    /// </summary>
    Task<bool> AddResponse(string tenant, string conversationId, ConversationResponse response);

    // The two calls of a gateway of the build before: silos of a rolling deploy answer them (no retry is recognised).
    Task<ConversationStart?> Continue(string tenant, string conversationId, bool fromItems);

    Task<bool> AddResponse(string tenant, string conversationId, long startedAtVersion, string responseId, byte[][] items);
}

/// <summary>
/// Where a response that names a conversation starts: after <see cref="HeadResponseId"/> (the conversation's last response,
/// while its items are exactly what that response left), or else with <see cref="Items"/> (every item, as input) first.
/// <see cref="RetryOf"/> names the conversation's last response when the request is taken for its client's retry: it
/// starts where that response's turn started, and goes to that response's owner.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationStart([property: Id(0)] long Version, [property: Id(1)] string? HeadResponseId, [property: Id(2)] byte[][] Items,
    [property: Id(3)] string? RetryOf = null);

/// <summary>
/// A completed response of a conversation: its id, where its turn started (the conversation's version, and the head it
/// continued or null when it went with the items), the fingerprint of its client's input, and its input and output items.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationResponse(
    [property: Id(0)] string ResponseId,
    [property: Id(1)] long StartedAtVersion,
    [property: Id(2)] string? StartedAfter,
    [property: Id(3)] ulong InputHash,
    [property: Id(4)] byte[][] Items);
