using System.Security.Cryptography;
using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Memory;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Finds the conversation a turn belongs to: by its <c>previous_response_id</c> alias when it has one, otherwise by
/// the session the client names (turn-state we issued, thread, session, prompt cache key), otherwise a new one.
/// </summary>
public sealed class TurnRouter(IGrainFactory grains, IMemoryCache aliasCache)
{
    public const string TurnStateHeader = "x-codex-turn-state";
    private static readonly string[] SessionHeaders = ["session-id", "session_id", "x-codex-session-id"];
    private static readonly MemoryCacheEntryOptions CacheEntry = new() { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) };

    /// <summary>The conversation key, or an error (400 only for an id this cluster never issued).</summary>
    public async ValueTask<(string? Key, OpenAIError? Error)> ResolveAsync(string tenant, string? previousResponseId, string? promptCacheKey, IHeaderDictionary headers)
    {
        if (previousResponseId is not null)
        {
            string? key;
            try
            {
                key = await ResolveAliasAsync(tenant, previousResponseId);
            }
            catch (Exception ex) when (TurnDispatcher.IsTransient(ex))
            {
                // We could not look; that is never the client's fault, so never a 400.
                return (null, ProxyErrors.OwnerUnreachable());
            }
            return key is null ? (null, ProxyErrors.PreviousResponseNotFound(previousResponseId)) : (key, null);
        }
        return (SessionKey(tenant, promptCacheKey, headers), null);
    }

    public static string SessionKey(string tenant, string? promptCacheKey, IHeaderDictionary headers)
    {
        if (headers[TurnStateHeader].ToString() is { Length: > 0 } turnState && turnState.StartsWith(tenant + "/", StringComparison.Ordinal)
            && turnState.Length <= 256)
            return turnState;
        if (headers["thread-id"].ToString() is { Length: > 0 } thread) return ConversationKey.Create(tenant, "thread", Digest(thread));
        foreach (var name in SessionHeaders)
            if (headers[name].ToString() is { Length: > 0 } session) return ConversationKey.Create(tenant, "session", Digest(session));
        if (promptCacheKey is { Length: > 0 }) return ConversationKey.Create(tenant, "cache", Digest(promptCacheKey));
        return ConversationKey.Create(tenant, "req", Guid.NewGuid().ToString("N"));
    }

    /// <summary>Remembers an alias this gateway just saw issued, so the next turn skips the lookup.</summary>
    public void Remember(string conversationKey, string responseId) =>
        aliasCache.Set(ConversationKey.AliasKey(ConversationKey.TenantOf(conversationKey), responseId), conversationKey, CacheEntry);

    private async ValueTask<string?> ResolveAliasAsync(string tenant, string responseId)
    {
        var aliasKey = ConversationKey.AliasKey(tenant, responseId);
        if (aliasCache.TryGetValue(aliasKey, out string? cached)) return cached;
        var key = await OwnerRetry.RunAsync(() => grains.GetGrain<IResponseAliasGrain>(aliasKey).GetConversation());
        if (key is not null) aliasCache.Set(aliasKey, key, CacheEntry);
        return key;
    }

    private static string Digest(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 16));
}
