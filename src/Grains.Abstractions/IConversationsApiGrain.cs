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
    /// <paramref name="fromItems"/>: the head's id is gone); null when there is no such conversation.
    /// </summary>
    Task<ConversationStart?> Continue(string tenant, string conversationId, bool fromItems);

    /// <summary>
    /// Adds a completed response's input and output items; the response becomes the head when the conversation is still at
    /// <paramref name="startedAtVersion"/>. False when the conversation is gone.
    /// </summary>
    Task<bool> AddResponse(string tenant, string conversationId, long startedAtVersion, string responseId, byte[][] items);
}

/// <summary>
/// Where a response that names a conversation starts: after <see cref="HeadResponseId"/> (the conversation's last response,
/// while its items are exactly what that response left), or else with <see cref="Items"/> (every item, as input) first.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationStart([property: Id(0)] long Version, [property: Id(1)] string? HeadResponseId, [property: Id(2)] byte[][] Items);
