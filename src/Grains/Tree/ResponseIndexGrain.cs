using CodexLb.Grains.Abstractions;
using Orleans.Concurrency;

namespace CodexLb.Grains.Tree;

/// <summary>
/// Gateways' read path into the response tree. A stateless worker runs on whichever silo the gateway reached, so a lookup
/// is one store read there, and no id, issued or not, ever creates an activation of its own. One reentrant worker per
/// silo: a lookup only awaits the store, so one serves them all at once, and load bursts add no workers to come and go.
/// </summary>
[StatelessWorker(1)]
[Reentrant]
public sealed class ResponseIndexGrain(IResponseTreeStore store) : Grain, IResponseIndexGrain
{
    public Task<ResponseLocation> Locate(string tenant, string responseId) => store.LocateAsync(tenant, responseId, CancellationToken.None);

    public Task<ContentMatch?> FindByContent(string tenant, ulong[] prefixChains, LastReference? reference = null) =>
        store.FindByContentAsync(tenant, prefixChains, CancellationToken.None, reference);

    public Task<bool> HasConversation(string conversationKey) => store.HasConversationAsync(conversationKey, CancellationToken.None);
}
