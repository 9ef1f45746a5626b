namespace CodexLb.Grains.Abstractions;

/// <summary>
/// The Conversations API for gateways: conversation objects and the items added to them, kept per tenant in the store
/// (a tenant reads only its own). A conversation here is a list of items, as the OpenAI Agents SDK's
/// <c>OpenAIConversationsSession</c> uses it; a response cannot name one (its items go as input, and the bridge sends the
/// provider only what is new). Items arrive checked by the gateway (<c>ConversationRequest</c>). A stateless worker on
/// each silo.
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
}
