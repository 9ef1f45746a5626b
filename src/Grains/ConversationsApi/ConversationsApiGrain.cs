using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Conversations;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Responses;
using Orleans.Concurrency;

namespace CodexLb.Grains.ConversationsApi;

/// <summary>
/// The Conversations API from the store (<see cref="IConversationObjectStore"/>): no activation per conversation, one
/// reentrant worker per silo, every call a store round trip or two. Items get their ids when they are added (numbered by
/// the store), so a listing's <c>after</c> cursor and an item's retrieval or deletion name the same item for good.
/// </summary>
[StatelessWorker(1)]
[Reentrant]
public sealed class ConversationsApiGrain(IConversationObjectStore store, TimeProvider clock) : Grain, IConversationsApiGrain
{
    public async Task<ApiReply> Create(string tenant, byte[][] items, string? metadataJson)
    {
        var id = ConversationObjects.NewId();
        var record = new ConversationRecord(clock.GetUtcNow().ToUnixTimeSeconds(), metadataJson);
        await store.CreateAsync(tenant, id, record, Kept(items, id, first: 0));
        return Ok(ConversationObjects.Conversation(id, record.CreatedAt, record.MetadataJson));
    }

    public async Task<ApiReply> Retrieve(string tenant, string conversationId) =>
        Known(conversationId) && await store.LoadAsync(tenant, conversationId) is { } record ? Ok(Object(conversationId, record)) : NotFound(conversationId);

    public async Task<ApiReply> Update(string tenant, string conversationId, string metadataJson) =>
        Known(conversationId) && await store.SetMetadataAsync(tenant, conversationId, metadataJson) is { } record
            ? Ok(Object(conversationId, record))
            : NotFound(conversationId);

    public async Task<ApiReply> Delete(string tenant, string conversationId) =>
        Known(conversationId) && await store.DeleteAsync(tenant, conversationId) ? Ok(ConversationObjects.Deleted(conversationId)) : NotFound(conversationId);

    public async Task<ApiReply> AddItems(string tenant, string conversationId, byte[][] items) =>
        await AppendAsync(tenant, conversationId, items) is { } kept
            ? Ok(ResponseObjects.InputItemsPage(kept, new InputItemsQuery(Math.Max(kept.Count, 1), Ascending: true)))
            : NotFound(conversationId);

    public async Task<ApiReply> ListItems(string tenant, string conversationId, int limit, bool ascending, string? after) =>
        Known(conversationId) && await store.ItemsAsync(tenant, conversationId) is { } items
            ? Ok(ResponseObjects.InputItemsPage(items, new InputItemsQuery(limit, ascending, after)))
            : NotFound(conversationId);

    public async Task<ApiReply> RetrieveItem(string tenant, string conversationId, string itemId)
    {
        if (!Known(conversationId) || await store.ItemsAsync(tenant, conversationId) is not { } items) return NotFound(conversationId);
        return items.Find(i => ResponseObjects.ItemId(i) == itemId) is { } item
            ? Ok(item)
            : UpstreamHttp.Reply(ProxyErrors.ConversationItemNotFound(conversationId, itemId));
    }

    /// <summary>Answers the conversation, as the API does.</summary>
    public async Task<ApiReply> DeleteItem(string tenant, string conversationId, string itemId)
    {
        if (!Known(conversationId) || await store.ItemsAsync(tenant, conversationId) is not { } items) return NotFound(conversationId);
        if (items.Find(i => ResponseObjects.ItemId(i) == itemId) is not { } item || !await store.RemoveItemAsync(tenant, conversationId, item))
            return UpstreamHttp.Reply(ProxyErrors.ConversationItemNotFound(conversationId, itemId));
        return await Retrieve(tenant, conversationId);
    }

    public async Task<ConversationStart?> Continue(string tenant, string conversationId, bool fromItems, ulong inputHash)
    {
        if (!Known(conversationId) || await store.LoadAsync(tenant, conversationId) is not { } record) return null;
        var retry = !fromItems && IsRetryOfHead(record, inputHash);
        if (retry && record.HeadBase is { } headBase) return new ConversationStart(record.HeadVersion - 1, headBase, [], record.Head);
        if (!retry && !fromItems && record.CurrentHead is { } head) return new ConversationStart(record.Version, head, []);
        // No head to continue (the first response, or items added or removed since): every item goes as input. A
        // version read apart from the items only costs the next response its head, never a wrong one (the append checks it).
        // A retry of a head that went with the items goes with the items it went with (those before the head's own).
        if (await store.ItemsAsync(tenant, conversationId) is not { } items) return null;
        var before = retry ? items.Count - record.HeadItemCount : items.Count;
        if (before < 0) return null;
        return new ConversationStart(retry ? record.HeadVersion - 1 : record.Version, null,
            [.. items.Take(before).Select(i => ConversationObjects.AsInput(i, conversationId))], retry ? record.Head : null);
    }

    /// <summary>
    /// The request asks again for the head, nothing changed since, within the grace the owner still answers a delivered
    /// turn again (<see cref="Conversation.ConversationGrain.DeliveredRetryGrace"/>): its gateway died between adding the
    /// head and the client hearing it, and the client retried. Asked on purpose, the same input gets the same answer, as
    /// identical requests to the owner do.
    /// </summary>
    private bool IsRetryOfHead(ConversationRecord record, ulong inputHash) =>
        record.CurrentHead is not null && inputHash != 0 && record.HeadInput == inputHash &&
        clock.GetUtcNow().ToUnixTimeMilliseconds() - record.HeadAddedAtMs <= Conversation.ConversationGrain.DeliveredRetryGrace.TotalMilliseconds;

    public Task<ConversationStart?> Continue(string tenant, string conversationId, bool fromItems) =>
        Continue(tenant, conversationId, fromItems, inputHash: 0);

    public Task<bool> AddResponse(string tenant, string conversationId, long startedAtVersion, string responseId, byte[][] items) =>
        AddResponse(tenant, conversationId, new ConversationResponse(responseId, startedAtVersion, null, 0, items));

    public async Task<bool> AddResponse(string tenant, string conversationId, ConversationResponse response) =>
        await AppendAsync(tenant, conversationId, response.Items, new ConversationHeadMove(response.ResponseId, response.StartedAtVersion,
            response.StartedAfter, response.InputHash, clock.GetUtcNow().ToUnixTimeMilliseconds())) is not null;

    /// <summary>Numbers the items, keeps them with their ids and adds them at the end; null when there is no such conversation.</summary>
    private async Task<List<byte[]>?> AppendAsync(string tenant, string conversationId, byte[][] items, ConversationHeadMove? head = null)
    {
        if (!Known(conversationId) || await store.ReserveAsync(tenant, conversationId, items.Length) is not { } first) return null;
        var kept = Kept(items, conversationId, first);
        return await store.AppendAsync(tenant, conversationId, kept, head) ? kept : null;
    }

    private static List<byte[]> Kept(byte[][] items, string conversationId, long first) =>
        [.. items.Select((item, i) => ConversationObjects.AsKept(item, conversationId, first + i))];

    private static byte[] Object(string id, ConversationRecord record) => ConversationObjects.Conversation(id, record.CreatedAt, record.MetadataJson);

    /// <summary>An id that is not one of ours is answered without a store read.</summary>
    private static bool Known(string conversationId) => ConversationObjects.IsWellFormed(conversationId);

    private static ApiReply NotFound(string conversationId) => UpstreamHttp.Reply(ProxyErrors.ConversationNotFound(conversationId));

    private static ApiReply Ok(byte[] body) => new(200, body);
}
