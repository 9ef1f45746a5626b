using System.Globalization;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Limits;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
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
public sealed class ResponsesApiEndpoints(ClientAuthenticator authenticator, IGrainFactory grains, IOptions<GatewayOptions> options)
{
    public static void Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        // A stream again holds its permit like a turn; a plain retrieve takes none (the policy tells them apart).
        endpoints.MapGet(prefix + "/{id}", (HttpContext c, string id, ResponsesApiEndpoints api, ResponseReplayEndpoint replay) =>
            ResponseReplayEndpoint.IsAsked(c.Request) ? replay.StreamAsync(c, id) : api.CallAsync(c, (grain, tenant) => grain.Retrieve(tenant, id)))
            .RequireRateLimiting(ClientLimits.TurnsPolicy);
        endpoints.MapDelete(prefix + "/{id}", (HttpContext c, string id, ResponsesApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Delete(tenant, id)));
        endpoints.MapPost(prefix + "/{id}/cancel", (HttpContext c, string id, ResponsesApiEndpoints api) =>
            api.CallAsync(c, (grain, tenant) => grain.Cancel(tenant, id)));
        endpoints.MapGet(prefix + "/{id}/input_items", (HttpContext c, string id, ResponsesApiEndpoints api) => api.InputItemsAsync(c, id));
        // Forwards reach the provider (a compaction is a paid generation): bounded per tenant like turns.
        endpoints.MapPost(prefix + "/input_tokens", (HttpContext c, ResponsesApiEndpoints api) => api.ForwardAsync(c, "input_tokens"))
            .RequireRateLimiting(ClientLimits.TurnsPolicy);
        endpoints.MapPost(prefix + "/compact", (HttpContext c, ResponsesApiEndpoints api) => api.ForwardAsync(c, "compact"))
            .RequireRateLimiting(ClientLimits.TurnsPolicy);
    }

    private Task InputItemsAsync(HttpContext context, string id)
    {
        var query = context.Request.Query;
        var limit = 20;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
            return ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidRequest("'limit' must be an integer from 1 to 100.", "limit"));
        var order = query.TryGetValue("order", out var orderText) ? orderText.ToString() : "desc";
        if (order is not ("asc" or "desc"))
            return ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidRequest("'order' must be 'asc' or 'desc'.", "order"));
        var after = query.TryGetValue("after", out var afterText) && afterText.Count > 0 ? afterText.ToString() : null;
        return CallAsync(context, (grain, tenant) => grain.ListInputItems(tenant, id, limit, order == "asc", after));
    }

    private async Task ForwardAsync(HttpContext context, string operation)
    {
        if (await AuthenticateAsync(context) is not { } tenant) return;
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

    /// <summary>The caller's tenant, or null after answering 401.</summary>
    private async Task<string?> AuthenticateAsync(HttpContext context)
    {
        var tenant = authenticator.Authenticate(context);
        if (tenant is null) await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey());
        return tenant;
    }

    private async Task CallAsync(HttpContext context, Func<IResponsesApiGrain, string, Task<ApiReply>> call)
    {
        if (await AuthenticateAsync(context) is { } tenant) await ReplyAsync(context, tenant, call, idempotent: true);
    }

    /// <summary>
    /// Calls the grain for an authenticated tenant and answers with its reply. Idempotent calls (reads, deletes) retry
    /// through owner loss with a short per-attempt bound; a forward runs once with no bound of ours (it may be a long
    /// generation; the provider call has its own timeout), since retrying it after a timeout could run it twice.
    /// </summary>
    private async Task ReplyAsync(HttpContext context, string tenant, Func<IResponsesApiGrain, string, Task<ApiReply>> call, bool idempotent)
    {
        ApiReply reply;
        try
        {
            var grain = grains.GetGrain<IResponsesApiGrain>(0);
            reply = idempotent
                ? await OwnerFailures.CallAsync(() => call(grain, tenant), options.Value.OwnerTimeout * 4, context.RequestAborted)
                : await call(grain, tenant).WaitAsync(context.RequestAborted);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.OwnerUnreachable());
            return;
        }
        await WriteAsync(context, reply);
    }

    /// <summary>A grain's answer as it is: its status, its JSON body and, when retryable, Retry-After.</summary>
    internal static async Task WriteAsync(HttpContext context, ApiReply reply)
    {
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = "application/json";
        if (reply.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.Response.Body.WriteAsync(reply.Body, context.RequestAborted);
    }
}
