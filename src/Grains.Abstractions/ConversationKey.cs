namespace CodexLb.Grains.Abstractions;

/// <summary>
/// The key of a conversation grain: <c>{tenant}/{kind}/{id}</c>. The tenant is a hash of the client's API key, so two
/// tenants never share a conversation; the kind says where the id came from (thread, session, cache, req).
/// </summary>
public static class ConversationKey
{
    public static string Create(string tenant, string kind, string id) => $"{tenant}/{kind}/{id}";

    public static string TenantOf(string conversationKey)
    {
        var tenant = TenantSpanOf(conversationKey);
        return tenant.Length == conversationKey.Length ? conversationKey : tenant.ToString();
    }

    /// <summary>The tenant part of a key without allocating it (a store that keeps one string per tenant looks it up by this).</summary>
    public static ReadOnlySpan<char> TenantSpanOf(string conversationKey)
    {
        var slash = conversationKey.IndexOf('/');
        return slash < 0 ? conversationKey : conversationKey.AsSpan(0, slash);
    }
}
