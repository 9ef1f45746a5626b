using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Limits;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// The Responses API beyond create, on every responses path: retrieve (streamed again with <c>stream=true</c>:
/// <see cref="ResponseReplayEndpoint"/>), delete, cancel, input items, input token counting and compaction. The gateway
/// authenticates, validates and relays to <see cref="IResponsesApiGrain"/>; the answer is the grain's (an OpenAI object
/// or error).
/// </summary>
public sealed class ResponsesApiEndpoints(GrainApiCalls calls, IGrainFactory grains, IOptions<GatewayOptions> options)
{
    public static void Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        // A stream again holds its permit like a turn; a plain retrieve takes none (ClientPermits tells them apart).
        endpoints.MapGet(prefix + "/{id}", (HttpContext c, string id, ResponsesApiEndpoints api, ResponseReplayEndpoint replay) =>
            ResponseReplayEndpoint.IsAsked(c.Request) ? replay.StreamAsync(c, id) : api.CallAsync(c, (grain, tenant) => grain.Retrieve(tenant, id)))
            .RequireClientLimit(ClientLimit.Turns);
        endpoints.MapDelete(prefix + "/{id}", (HttpContext c, string id, ResponsesApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Delete(tenant, id)));
        endpoints.MapPost(prefix + "/{id}/cancel", (HttpContext c, string id, ResponsesApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Cancel(tenant, id)));
        endpoints.MapGet(prefix + "/{id}/input_items", (HttpContext c, string id, ResponsesApiEndpoints api) => api.InputItemsAsync(c, id));
        // Forwards reach the provider (a compaction is a paid generation): bounded per tenant like turns.
        endpoints.MapPost(prefix + "/input_tokens", (HttpContext c, ResponsesApiEndpoints api) => api.ForwardAsync(c, "input_tokens"))
            .RequireClientLimit(ClientLimit.Turns);
        endpoints.MapPost(prefix + "/compact", (HttpContext c, ResponsesApiEndpoints api) => api.ForwardAsync(c, "compact"))
            .RequireClientLimit(ClientLimit.Turns);
    }

    private Task InputItemsAsync(HttpContext context, string id) =>
        PageQuery.TryRead(context.Request.Query, out var page) is { } error
            ? ErrorResults.WriteAsync(context.Response, error)
            : CallAsync(context, (grain, tenant) => grain.ListInputItems(tenant, id, page.Limit, page.Ascending, page.After));

    private async Task ForwardAsync(HttpContext context, string operation)
    {
        if (await calls.AuthenticateAsync(context) is not { } tenant) return;
        var (pooled, error) = await RequestBody.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, context.RequestAborted);
        byte[]? body = null;
        using (pooled)
        {
            // The create body's checks (UTF-8, lone surrogate escapes, field types): what fails them never reaches the provider.
            if (error is null && ResponseCreateParser.TryValidateForward(pooled!.Written.Span, out error)) body = pooled.ToArray(); // sent to the grain
        }
        if (error is not null)
        {
            await ErrorResults.WriteAsync(context.Response, error);
            return;
        }
        await ReplyAsync(context, tenant, (grain, t) => grain.Forward(t, operation, body!), idempotent: false);
    }

    private async Task CallAsync(HttpContext context, Func<IResponsesApiGrain, string, Task<ApiReply>> call)
    {
        if (await calls.AuthenticateAsync(context) is { } tenant) await ReplyAsync(context, tenant, call, idempotent: true);
    }

    private Task ReplyAsync(HttpContext context, string tenant, Func<IResponsesApiGrain, string, Task<ApiReply>> call, bool idempotent)
    {
        var grain = grains.GetGrain<IResponsesApiGrain>(0);
        return calls.ReplyAsync(context, () => call(grain, tenant), idempotent);
    }
}
