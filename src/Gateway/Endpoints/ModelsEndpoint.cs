using System.Text.Json;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Security;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary><c>GET /v1/models</c>: the configured model list in the OpenAI list shape, narrowed to what the caller's key may use.</summary>
public static class ModelsEndpoint
{
    public static async Task HandleAsync(HttpContext context, ClientAuthenticator authenticator, IOptions<GatewayOptions> options)
    {
        if (authenticator.Identify(context) is not { } key)
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey());
            return;
        }
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var id in options.Value.Models)
        {
            if (!key.Allows(id)) continue;
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("object", "model");
            writer.WriteNumber("created", 0);
            writer.WriteString("owned_by", "codex-lb");
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
