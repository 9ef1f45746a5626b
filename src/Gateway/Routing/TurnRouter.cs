using System.Security.Cryptography;
using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Items;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Routing;

/// <summary>Where a turn goes: its conversation, or the error to answer; and, for a keyless client, the response its input resumes.</summary>
public readonly record struct TurnRoute(string? Key, OpenAIError? Error, ContentMatch? Resume = null);

/// <summary>
/// Finds the conversation a turn belongs to: by its <c>previous_response_id</c> when it has one (one read of the response
/// tree, or this gateway's cache), otherwise by the session the client names (turn-state we issued, thread, session,
/// prompt cache key), otherwise by its content (a full-history client resending a conversation we hold, or naming its
/// items with <c>item_reference</c>s), otherwise a new one.
/// Every turn that starts a conversation is charged to the tenant's rate of new conversations, a session key the client
/// made up included; a turn of a conversation that exists never is.
/// </summary>
/// <param name="knownConversations">Conversation keys this gateway routed to, so only a key's first turn here looks it up.</param>
public sealed class TurnRouter(IGrainFactory grains, AliasCache aliasCache, KnownConversations knownConversations, TimeSpan lookupTimeout,
    Limits.NewConversationLimiter newConversations)
{
    public const string TurnStateHeader = "x-codex-turn-state";
    private static readonly string[] SessionHeaders = ["session-id", "session_id", "x-codex-session-id"];

    /// <param name="fallbackKey">The conversation of a keyless turn that resumes nothing (a websocket's own); null for a new one.</param>
    public async ValueTask<TurnRoute> RouteAsync(string tenant, string? previousResponseId, string? promptCacheKey, IHeaderDictionary headers,
        IReadOnlyList<byte[]> inputItems, ulong[] inputFingerprints, string? fallbackKey = null)
    {
        try
        {
            if (previousResponseId is not null)
            {
                var location = await LocateAsync(tenant, previousResponseId);
                return location.Status switch
                {
                    ResponseStatus.Found => new TurnRoute(location.ConversationKey, null),
                    ResponseStatus.Expired => new TurnRoute(null, ProxyErrors.PreviousResponseExpired(previousResponseId)),
                    _ => new TurnRoute(null, ProxyErrors.PreviousResponseNotFound(previousResponseId)),
                };
            }
            if (NamedSessionKey(tenant, promptCacheKey, headers) is { } named) return await ExistingOrNewAsync(tenant, named);
            if (inputFingerprints.Length > 1)
            {
                Telemetry.GatewayMetrics.IndexLookups.Add(1, new KeyValuePair<string, object?>("kind", "content"));
                var match = await FindByContentAsync(tenant, inputFingerprints, LastReferenceOf(inputItems));
                if (match is not null) return new TurnRoute(match.ConversationKey, null, match);
            }
            if (fallbackKey is not null) return await ExistingOrNewAsync(tenant, fallbackKey);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            // We could not look; that is never the client's fault, so never a 400.
            return new TurnRoute(null, ProxyErrors.OwnerUnreachable());
        }
        // A new conversation is a new grain and a new upstream socket: the one thing a client can create at will.
        if (!newConversations.TryStart(tenant)) return new TurnRoute(null, ProxyErrors.TooManyConversations());
        var key = NewKey(tenant);
        knownConversations.Add(key); // its next turn names it (turn state) and needs no lookup
        return new TurnRoute(key, null);
    }

    /// <summary>
    /// A conversation the client names (a session key, or a websocket's own): charged as a new one when it does not exist
    /// yet. Any client can make up session keys, so a named key is no proof of an existing conversation; the tree's head
    /// is (an activation claims it, and it lives as long as the conversation's responses). One lookup per key and gateway.
    /// </summary>
    private async ValueTask<TurnRoute> ExistingOrNewAsync(string tenant, string key)
    {
        if (!newConversations.Enabled || knownConversations.Contains(key)) return new TurnRoute(key, null);
        Telemetry.GatewayMetrics.IndexLookups.Add(1, new KeyValuePair<string, object?>("kind", "conversation"));
        var exists = await OwnerFailures.CallAsync(() => Index.HasConversation(key), lookupTimeout);
        if (!exists && !newConversations.TryStart(tenant)) return new TurnRoute(null, ProxyErrors.TooManyConversations());
        knownConversations.Add(key);
        return new TurnRoute(key, null);
    }

    /// <summary>The conversation a request names through its headers or prompt cache key, else a new one.</summary>
    public static string SessionKey(string tenant, string? promptCacheKey, IHeaderDictionary headers) =>
        NamedSessionKey(tenant, promptCacheKey, headers) ?? NewKey(tenant);

    private static string? NamedSessionKey(string tenant, string? promptCacheKey, IHeaderDictionary headers)
    {
        if (headers[TurnStateHeader].ToString() is { Length: > 0 } turnState && turnState.StartsWith(tenant + "/", StringComparison.Ordinal)
            && turnState.Length <= 256)
            return turnState;
        if (headers["thread-id"].ToString() is { Length: > 0 } thread) return ConversationKey.Create(tenant, "thread", Digest(thread));
        foreach (var name in SessionHeaders)
            if (headers[name].ToString() is { Length: > 0 } session) return ConversationKey.Create(tenant, "session", Digest(session));
        if (promptCacheKey is { Length: > 0 }) return ConversationKey.Create(tenant, "cache", Digest(promptCacheKey));
        return null;
    }

    /// <summary>The input's last item_reference, which names an output the client got from a conversation we hold.</summary>
    private static LastReference? LastReferenceOf(IReadOnlyList<byte[]> items) =>
        ItemReference.LastOf(items) is (var index, { Length: > 0 and <= 256 } id) ? new LastReference(index, id) : null;

    private static string NewKey(string tenant) => ConversationKey.Create(tenant, "req", Guid.NewGuid().ToString("N"));

    /// <summary>Remembers a response id this gateway saw issued (at response.created), so the next turn skips the lookup.</summary>
    public void Remember(string conversationKey, string responseId) =>
        aliasCache.Add(ConversationKey.TenantSpanOf(conversationKey), responseId, conversationKey);

    /// <summary>
    /// A started turn: its response id routes to this conversation from <c>response.created</c> on, so a client that
    /// chains on it before it completes reaches the turn (and waits behind it) instead of hearing "not found".
    /// </summary>
    public void Started(string conversationKey, TurnStream stream)
    {
        if (stream.ResponseId is { } id) Remember(conversationKey, id);
    }

    private IResponseIndexGrain Index => grains.GetGrain<IResponseIndexGrain>(0);

    private async ValueTask<ResponseLocation> LocateAsync(string tenant, string responseId)
    {
        if (aliasCache.TryGet(tenant, responseId, out var cached)) return new ResponseLocation(ResponseStatus.Found, cached);
        Telemetry.GatewayMetrics.IndexLookups.Add(1, new KeyValuePair<string, object?>("kind", "id"));
        var location = await LookUpAsync(tenant, responseId);
        if (location is { Status: ResponseStatus.Found, ConversationKey: { } key }) aliasCache.Add(tenant, responseId, key);
        return location;
    }

    // The index calls live apart from their callers: a lambda's captures would make a closure on every call, cache hits too.
    private Task<ResponseLocation> LookUpAsync(string tenant, string responseId) =>
        OwnerFailures.CallAsync(() => Index.Locate(tenant, responseId), lookupTimeout);

    private Task<ContentMatch?> FindByContentAsync(string tenant, ulong[] inputFingerprints, LastReference? reference) =>
        OwnerFailures.CallAsync(() => Index.FindByContent(tenant, ContextChain.Prefixes(inputFingerprints), reference), lookupTimeout);

    private static string Digest(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 16));
}
