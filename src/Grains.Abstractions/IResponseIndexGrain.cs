namespace CodexLb.Grains.Abstractions;

/// <summary>
/// Read-only lookups in the response tree for gateways, served by a stateless worker on each silo: one store read per
/// lookup and no activation per response id (a never-issued id costs nothing but the read).
/// </summary>
public interface IResponseIndexGrain : IGrainWithIntegerKey
{
    /// <summary>The conversation of a response this tenant was issued.</summary>
    Task<ResponseLocation> Locate(string tenant, string responseId);

    /// <summary>
    /// The longest response of this tenant whose context chain equals one of <paramref name="prefixChains"/>
    /// (element k-1 is the chain of the request's first k items); when none covers <paramref name="reference"/>, the
    /// response that output the item it names, with <see cref="ContentMatch.PrefixLength"/> 0 (its conversation reads the
    /// references against that response's items); or null.
    /// </summary>
    Task<ContentMatch?> FindByContent(string tenant, ulong[] prefixChains, LastReference? reference = null);

    /// <summary>
    /// Whether a conversation exists (it was activated and has not expired), without activating it: a turn to a session
    /// key that does not exist yet starts a new conversation, which a gateway charges to the tenant's rate.
    /// </summary>
    Task<bool> HasConversation(string conversationKey);
}
