using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// <c>GET /v1/usage</c>: the caller's own key, its usage, limits and what remains. <c>GET /admin/usage</c>: every key,
/// for the operator (its own token, <c>CodexLb:Admin:Token</c>; the endpoint does not exist without one), plus each
/// <see cref="IOperatorUsageSection"/> (the accounts pool's health goes there).
/// </summary>
public sealed class UsageEndpoints(
    ClientAuthenticator authenticator, ClientKeyStore keys, UsageRecorder recorder, IGrainFactory grains,
    IOptionsMonitor<AdminOptions> admin, IEnumerable<IOperatorUsageSection> sections, IOptions<GatewayOptions> options)
{
    public const string AdminPath = "/admin/usage";
    private static readonly TimeSpan SectionTimeout = TimeSpan.FromSeconds(5);
    private readonly TimeSpan _timeout = options.Value.OwnerTimeout;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        foreach (var path in new[] { "/v1/usage", "/usage" })
            endpoints.MapGet(path, (HttpContext context, UsageEndpoints usage) => usage.KeyAsync(context));
        endpoints.MapGet(AdminPath, (HttpContext context, UsageEndpoints usage) => usage.AdminAsync(context));
    }

    private async Task KeyAsync(HttpContext context)
    {
        if (authenticator.Identify(context) is not { } key)
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey());
            return;
        }
        KeyUsage usage;
        try
        {
            usage = await ReadAsync(key, context.RequestAborted);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            await ErrorResults.WriteAsync(context.Response, UsageUnreachable());
            return;
        }
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("object", "key.usage");
        UsageJson.WriteKey(writer, key, usage);
        writer.WriteEndObject();
    }

    private async Task AdminAsync(HttpContext context)
    {
        if (admin.CurrentValue.Token is not { Length: > 0 } token)
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.RouteNotFound(context.Request.Method, AdminPath));
            return;
        }
        if (!IsOperator(context.Request.Headers.Authorization, token))
        {
            await ErrorResults.WriteAsync(context.Response, new OpenAIError(401, ErrorCodes.InvalidApiKey, "This endpoint takes the operator token (CodexLb:Admin:Token).", ErrorTypes.Authentication));
            return;
        }
        var aborted = context.RequestAborted;
        var listed = keys.Keys.OrderBy(k => k.Name, StringComparer.Ordinal).ToArray();
        var usages = listed.Select(async key =>
        {
            try
            {
                return (key, usage: await ReadAsync(key, aborted), error: (string?)null);
            }
            catch (Exception ex) when (OwnerFailures.IsTransient(ex))
            {
                return (key, usage: (KeyUsage?)null, error: (string?)UsageUnreachable().Message);
            }
        }).ToArray();
        var extra = sections.Select(async section =>
        {
            try
            {
                return (section.Name, value: await section.ReadAsync(aborted).WaitAsync(SectionTimeout, aborted), error: (string?)null);
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested)
            {
                return (section.Name, value: null, error: (string?)$"This section could not be read ({ex.GetType().Name}).");
            }
        }).ToArray();
        await Task.WhenAll([.. usages, .. extra]);

        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("object", "admin.usage");
        writer.WriteStartArray("keys");
        foreach (var (key, usage, error) in usages.Select(u => u.Result))
        {
            writer.WriteStartObject();
            if (usage is not null) UsageJson.WriteKey(writer, key, usage);
            else
            {
                writer.WriteString("name", key.Name);
                writer.WriteString("error", error);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        foreach (var (name, value, error) in extra.Select(s => s.Result))
        {
            writer.WritePropertyName(name);
            if (error is not null)
            {
                writer.WriteStartObject();
                writer.WriteString("error", error);
                writer.WriteEndObject();
            }
            else if (value is null) writer.WriteNullValue();
            else value.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    /// <summary>This gateway's unreported counts first, then the key's grain: the answer includes the caller's latest turns.</summary>
    private async Task<KeyUsage> ReadAsync(ClientKey key, CancellationToken cancellationToken)
    {
        await recorder.FlushAsync(key.UsageKey);
        return await OwnerFailures.CallAsync(() => grains.GetGrain<IClientKeyGrain>(key.UsageKey).GetUsage(), _timeout, cancellationToken);
    }

    /// <summary>The operator token, compared as hashes in constant time (no length leak).</summary>
    private static bool IsOperator(string? authorizationHeader, string token)
    {
        var presented = authorizationHeader is { } h && h.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? h[7..].Trim() : null;
        if (presented is null) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token.Trim())));
    }

    private static OpenAIError UsageUnreachable() =>
        new(503, ErrorCodes.OwnerUnreachable, "This key's usage could not be read (the bridge could not reach it); retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };
}
