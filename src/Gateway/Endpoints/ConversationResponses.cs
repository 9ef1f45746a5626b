using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Requests;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// A response created with <c>conversation</c>. The provider holds no conversation of ours, so the request becomes what the
/// bridge already serves: a continuation of the conversation's last response (<c>previous_response_id</c>, and the provider
/// is sent only the new input), or, when the items changed since or there is no such response, the conversation's items
/// followed by the input (the bridge's content match still finds what the provider already has). The response's input
/// and output are added to the conversation before the client hears it completed (<see cref="ConversationTurn"/>).
/// </summary>
public sealed class ConversationResponses(IGrainFactory grains, IOptions<GatewayOptions> options)
{
    private IConversationsApiGrain Api => grains.GetGrain<IConversationsApiGrain>(0);

    /// <summary>The request as its conversation continues it, and the turn that records it; or the error to answer.</summary>
    public async Task<(ResponseCreateRequest? Request, ConversationTurn? Turn, OpenAIError? Error)> StartAsync(
        string tenant, ResponseCreateRequest request, bool fromItems, CancellationToken cancellationToken)
    {
        var id = request.ConversationId!;
        ConversationStart? start;
        try
        {
            start = await OwnerFailures.CallAsync(() => Api.Continue(tenant, id, fromItems), options.Value.OwnerTimeout * 4, cancellationToken);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            return (null, null, ProxyErrors.OwnerUnreachable());
        }
        if (start is null) return (null, null, ProxyErrors.ConversationNotFound(id) with { Param = "conversation" });
        var continued = start.HeadResponseId is { } head
            ? request.InConversation(head, request.InputItems)
            : request.InConversation(null, [.. start.Items, .. request.InputItems]);
        return (continued, new ConversationTurn(this, tenant, id, start.Version, start.HeadResponseId, request.InputItems), null);
    }

    /// <summary>
    /// Adds a completed response to its conversation, retried through owner loss: a response that became the head is not
    /// added again. (One that did not, because the items changed under it, could be added twice by a retry after an
    /// unclear failure.) A transient failure after the retries is the caller's to answer.
    /// </summary>
    internal Task AddAsync(string tenant, string conversationId, long startedAtVersion, string responseId, byte[][] items, CancellationToken cancellationToken) =>
        OwnerFailures.CallAsync(() => Api.AddResponse(tenant, conversationId, startedAtVersion, responseId, items), options.Value.OwnerTimeout * 4, cancellationToken);
}
