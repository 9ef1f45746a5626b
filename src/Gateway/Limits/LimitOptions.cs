using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Limits;

/// <summary>
/// What one client (tenant) may hold on ONE gateway at a time (<c>CodexLb:Limits</c>); 0 turns a limit off. Limits are
/// per gateway process: with N gateways behind a balancer a tenant may hold up to N times as much.
/// </summary>
public sealed class LimitOptions
{
    public const string Section = "CodexLb:Limits";

    /// <summary>HTTP turns of one tenant in flight at once; more are answered 429 with Retry-After.</summary>
    public int ConcurrentTurnsPerTenant { get; set; } = 64;

    /// <summary>Open client websockets of one tenant; another upgrade is answered 429.</summary>
    public int WebSocketsPerTenant { get; set; } = 256;

    /// <summary>Open client websockets on this gateway, all tenants together; another upgrade is answered 503.</summary>
    public int WebSockets { get; set; } = 10_000;

    /// <summary>
    /// Conversations a tenant may start per minute (each one is a new grain and a new upstream socket): a turn with no
    /// anchor, session or content match, and the first turn of a session key (header, prompt cache key, turn state, or a
    /// websocket's own) that names no existing conversation. More are answered 429 with Retry-After; a turn of an
    /// existing conversation never is.
    /// </summary>
    public int NewConversationsPerMinute { get; set; } = 600;
}

public sealed class LimitOptionsValidator : IValidateOptions<LimitOptions>
{
    public ValidateOptionsResult Validate(string? name, LimitOptions options) =>
        options is { ConcurrentTurnsPerTenant: >= 0, WebSocketsPerTenant: >= 0, WebSockets: >= 0, NewConversationsPerMinute: >= 0 }
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{LimitOptions.Section}: limits must not be negative (0 = unlimited).");
}
