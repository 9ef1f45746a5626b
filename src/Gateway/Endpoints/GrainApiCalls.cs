using System.Globalization;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// What the API endpoints beyond create share: the caller's tenant (or a 401), one grain call answered with the grain's
/// <see cref="ApiReply"/>, and owner loss answered retryably.
/// </summary>
public sealed class GrainApiCalls(ClientAuthenticator authenticator, IOptions<GatewayOptions> options)
{
    /// <summary>The caller's tenant, or null after answering 401.</summary>
    public async Task<string?> AuthenticateAsync(HttpContext context)
    {
        var tenant = authenticator.Authenticate(context);
        if (tenant is null) await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey());
        return tenant;
    }

    /// <summary>
    /// Calls the grain and answers with its reply. Idempotent calls (reads, deletes) retry through owner loss with a short
    /// per-attempt bound; any other runs once with no bound of ours (a forward may be a long generation: the provider call
    /// has its own timeout), since retrying it after a timeout could do it twice.
    /// </summary>
    public async Task ReplyAsync(HttpContext context, Func<Task<ApiReply>> call, bool idempotent)
    {
        ApiReply reply;
        try
        {
            reply = idempotent
                ? await OwnerFailures.CallAsync(call, options.Value.OwnerTimeout * 4, context.RequestAborted)
                : await call().WaitAsync(context.RequestAborted);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.OwnerUnreachable());
            return;
        }
        await WriteAsync(context, reply);
    }

    /// <summary>A grain's answer as it is: its status, its JSON body and, when retryable, Retry-After.</summary>
    public static async Task WriteAsync(HttpContext context, ApiReply reply)
    {
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = "application/json";
        if (reply.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.Response.Body.WriteAsync(reply.Body, context.RequestAborted);
    }
}
