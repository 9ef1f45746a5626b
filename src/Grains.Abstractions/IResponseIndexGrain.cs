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
    /// (element k-1 is the chain of the request's first k items), or null.
    /// </summary>
    Task<ContentMatch?> FindByContent(string tenant, ulong[] prefixChains);
}
