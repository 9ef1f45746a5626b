using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Tree;

/// <summary>
/// The response tree: immutable nodes per tenant, an index from context chains to nodes, and one fenced head per
/// conversation. Every key expires <see cref="StateOptions.Retention"/> after its last use; reading or extending a node's
/// path refreshes the whole path when it was last refreshed more than a slack (min(1 day, R/10)) ago, so a node never
/// outlives an ancestor it needs, and a path in use is rewritten at most once per slack.
/// </summary>
public interface IResponseTreeStore
{
    /// <summary>Claims a conversation for a new activation: a new, higher epoch, and the head as it was.</summary>
    Task<ConversationHead> ClaimAsync(string conversationKey, CancellationToken cancellationToken);

    /// <summary>
    /// Whether a conversation exists: some activation claimed it and its head has not expired. One cheap read, with no
    /// refresh: gateways ask it before they charge a turn to a session key as a new conversation.
    /// </summary>
    Task<bool> HasConversationAsync(string conversationKey, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a node, its chain index entry and output item entries (not for synthetic nodes) and the conversation's head in one round trip, if
    /// <paramref name="epoch"/> is still the conversation's epoch. False (nothing written) when a newer activation claimed it.
    /// </summary>
    Task<bool> AppendAsync(long epoch, ResponseNode node, CancellationToken cancellationToken);

    /// <summary>
    /// The node and its ancestors, newest first, refreshing their expiry (only when the path was last refreshed more than a
    /// slack ago: within it, nothing is written); Unknown or Expired when it is gone, Pending when it was started (marked
    /// pending) and has not completed.
    /// </summary>
    Task<NodePath> LoadPathAsync(string tenant, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// Makes a started response (its <c>response.created</c> reached the client) routable before it completes, for
    /// <see cref="StateOptions.PendingLifetime"/>: a client may chain on it through any gateway and wait behind it. Marked
    /// again, the lifetime starts over (its owner refreshes a long response while it runs).
    /// </summary>
    Task MarkPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks a started background response pending, as <see cref="MarkPendingAsync"/> does, with what it takes to run it
    /// again (<paramref name="resumable"/>, opaque here) for as long as the marker lives: nobody follows a background
    /// response, so if its owner is lost mid-generation, the next call that asks for it runs it again on its conversation.
    /// </summary>
    Task MarkResumableAsync(string conversationKey, string responseId, byte[] resumable, CancellationToken cancellationToken);

    /// <summary>Starts a running response's lifetime over (<see cref="StateOptions.PendingLifetime"/>), what it takes to resume it included.</summary>
    Task RefreshPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// What <see cref="MarkResumableAsync"/> kept for a response that is still pending (neither completed nor settled);
    /// null for any other.
    /// </summary>
    Task<byte[]?> LoadResumableAsync(string tenant, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// A started response that ended without completing (cancelled, failed, incomplete) keeps its final object beside its
    /// pending marker, for as long as the marker lives: <see cref="LoadResponseAsync"/> answers that object (it is over),
    /// while <see cref="LoadPathAsync"/> still says pending (it cannot be continued). Nothing when the marker is gone.
    /// </summary>
    Task SettleAsync(string conversationKey, string responseId, byte[] response, CancellationToken cancellationToken);

    /// <summary>The conversation of a node (or of a pending response), without loading its items.</summary>
    Task<ResponseLocation> LocateAsync(string tenant, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// The longest non-synthetic node whose chain is one of <paramref name="prefixChains"/> (index k-1 = first k items).
    /// When no such node covers <paramref name="reference"/> (k at most its index), the node whose outputs include the item
    /// it names, if the client stored it (<see cref="ResponseNode.OutputIds"/>), with prefix length 0.
    /// </summary>
    Task<ContentMatch?> FindByContentAsync(string tenant, IReadOnlyList<ulong> prefixChains, CancellationToken cancellationToken,
        LastReference? reference = null);

    /// <summary>
    /// A response object for retrieve: the node's envelope and outputs, only its conversation while it is pending, or the
    /// final object of a started response that ended without completing (<see cref="SettleAsync"/>).
    /// </summary>
    Task<StoredResponse> LoadResponseAsync(string tenant, string responseId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes a response at its client's request: its node (content included) goes, and its id answers as never issued
    /// from then on. Responses that continue from it can no longer be rebuilt (they load as expired). False when the tenant
    /// holds no such response.
    /// </summary>
    Task<bool> DeleteAsync(string tenant, string responseId, CancellationToken cancellationToken);
}
