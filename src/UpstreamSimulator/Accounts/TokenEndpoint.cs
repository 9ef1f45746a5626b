using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// <c>POST /oauth/token</c>, the ChatGPT sign-in's refresh: <c>grant_type=refresh_token</c> and a <c>refresh_token</c>, as
/// JSON (what the Codex CLI sends) or a form. Answers <c>{access_token, refresh_token, id_token, token_type, expires_in}</c>.
/// </summary>
internal static class TokenEndpoint
{
    public static RequestDelegate Create(KeyPolicies keys) => async http =>
    {
        string? grant = null, refresh = null;
        if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            grant = form["grant_type"];
            refresh = form["refresh_token"];
        }
        else
        {
            try
            {
                using var doc = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
                grant = doc.RootElement.TryGetProperty("grant_type", out var g) && g.ValueKind == JsonValueKind.String ? g.GetString() : null;
                refresh = doc.RootElement.TryGetProperty("refresh_token", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            }
            catch (JsonException)
            {
                // Answered below as an unsupported grant.
            }
        }
        var (status, body) = keys.Refresh(grant, refresh);
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(body, http.RequestAborted);
    };
}
