using CodexLb.Gateway.Hosting;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Conversations;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// The Conversations API (<c>/v1/conversations</c>): create, retrieve, update and delete a conversation; add, list,
/// retrieve and delete its items. The gateway authenticates and checks the body (<see cref="ConversationRequest"/>);
/// <see cref="IConversationsApiGrain"/> answers from the store. A call with a body (create, update, add items) is not
/// retried after an unclear failure (a create or an add could happen twice); reads and deletes are.
/// </summary>
public sealed class ConversationsApiEndpoints(GrainApiCalls calls, IGrainFactory grains, IOptions<GatewayOptions> options)
{
    public static void Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        endpoints.MapPost(prefix, (HttpContext c, ConversationsApiEndpoints api) =>
            api.WithBodyAsync(c, ConversationRequestKind.Create, (grain, tenant, body) => grain.Create(tenant, [.. body.Items], body.MetadataJson)));
        endpoints.MapGet(prefix + "/{id}", (HttpContext c, string id, ConversationsApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Retrieve(tenant, id)));
        endpoints.MapPost(prefix + "/{id}", (HttpContext c, string id, ConversationsApiEndpoints api) =>
            api.WithBodyAsync(c, ConversationRequestKind.Update, (grain, tenant, body) => grain.Update(tenant, id, body.MetadataJson!)));
        endpoints.MapDelete(prefix + "/{id}", (HttpContext c, string id, ConversationsApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Delete(tenant, id)));
        endpoints.MapPost(prefix + "/{id}/items", (HttpContext c, string id, ConversationsApiEndpoints api) =>
            api.WithBodyAsync(c, ConversationRequestKind.AddItems, (grain, tenant, body) => grain.AddItems(tenant, id, [.. body.Items])));
        endpoints.MapGet(prefix + "/{id}/items", (HttpContext c, string id, ConversationsApiEndpoints api) => api.ListItemsAsync(c, id));
        endpoints.MapGet(prefix + "/{id}/items/{itemId}", (HttpContext c, string id, string itemId, ConversationsApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.RetrieveItem(tenant, id, itemId)));
        endpoints.MapDelete(prefix + "/{id}/items/{itemId}", (HttpContext c, string id, string itemId, ConversationsApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.DeleteItem(tenant, id, itemId)));
    }

    private Task ListItemsAsync(HttpContext context, string id) =>
        PageQuery.TryRead(context.Request.Query, out var page) is { } error
            ? ErrorResults.WriteAsync(context.Response, error)
            : CallAsync(context, (grain, tenant) => grain.ListItems(tenant, id, page.Limit, page.Ascending, page.After));

    private async Task CallAsync(HttpContext context, Func<IConversationsApiGrain, string, Task<ApiReply>> call)
    {
        if (await calls.AuthenticateAsync(context) is not { } tenant) return;
        var grain = grains.GetGrain<IConversationsApiGrain>(0);
        await calls.ReplyAsync(context, () => call(grain, tenant), idempotent: true);
    }

    private async Task WithBodyAsync(HttpContext context, ConversationRequestKind kind, Func<IConversationsApiGrain, string, ConversationRequest, Task<ApiReply>> call)
    {
        if (await calls.AuthenticateAsync(context) is not { } tenant) return;
        var (pooled, error) = await RequestBody.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, context.RequestAborted);
        ConversationRequest? body = null;
        using (pooled)
        {
            if (error is null) body = ConversationRequest.Parse(pooled!.Written.Span, kind, out error);
        }
        if (body is null)
        {
            await ErrorResults.WriteAsync(context.Response, error!);
            return;
        }
        var grain = grains.GetGrain<IConversationsApiGrain>(0);
        await calls.ReplyAsync(context, () => call(grain, tenant, body), idempotent: false);
    }
}
