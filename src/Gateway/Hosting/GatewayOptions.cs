using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Hosting;

/// <summary>The client-facing API (<c>CodexLb:Gateway</c>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "CodexLb:Gateway";

    /// <summary>When non-empty, clients must present one of these as their bearer token (401 otherwise).</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>How often the key files of <c>CodexLb:Keys</c> are read again, so a rotated Secret applies without a restart.</summary>
    public TimeSpan KeyFilePollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest accepted request body or websocket frame (413 beyond it).</summary>
    public long MaxRequestBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>
    /// SSE comment sent when a stream is quiet this long, so proxies and clients keep it open. It goes out with the
    /// owner's next heartbeat (<c>CodexLb:Upstream:HeartbeatInterval</c>, 500 ms), so it is never more frequent than those.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Response-id aliases each gateway remembers, saving the alias lookup for recent turns; as many conversation keys are
    /// remembered too, saving the lookup that tells a session key's first turn from a new conversation's.
    /// </summary>
    public int AliasCacheEntries { get; set; } = 100_000;

    /// <summary>
    /// A turn whose owner sends nothing (grains heartbeat every 500 ms while a turn is quiet) for this long is
    /// treated as owner loss: rebound and retried before the first byte, ended with a retryable response.failed after.
    /// </summary>
    public TimeSpan OwnerTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>On SIGTERM: how long readiness reports 503 before the drain starts waiting for turns.</summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>On SIGTERM: the longest the process waits for in-flight turns to finish.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Accept the websocket transport; when false, upgrades are answered 426 and clients fall back to HTTP.</summary>
    public bool WebSocketsEnabled { get; set; } = true;

    /// <summary>Models listed by <c>GET /v1/models</c>.</summary>
    public string[] Models { get; set; } = ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex"];
}

public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        if (options.MaxRequestBodyBytes is < 1024 or > 1L << 31)
            failures.Add($"{GatewayOptions.Section}:MaxRequestBodyBytes must be between 1 KiB and 2 GiB.");
        if (options.KeepAliveInterval <= TimeSpan.Zero)
            failures.Add($"{GatewayOptions.Section}:KeepAliveInterval must be positive.");
        if (options.OwnerTimeout < TimeSpan.FromSeconds(1))
            failures.Add($"{GatewayOptions.Section}:OwnerTimeout must be at least 1 s (grains heartbeat every 500 ms).");
        if (options.DrainDelay < TimeSpan.Zero || options.DrainTimeout < TimeSpan.Zero)
            failures.Add($"{GatewayOptions.Section}:DrainDelay and DrainTimeout must not be negative.");
        if (options.KeyFilePollInterval < TimeSpan.FromMilliseconds(100))
            failures.Add($"{GatewayOptions.Section}:KeyFilePollInterval must be at least 100 ms.");
        if (options.AliasCacheEntries < 0)
            failures.Add($"{GatewayOptions.Section}:AliasCacheEntries must not be negative.");
        if (options.ApiKeys.Any(k => string.IsNullOrWhiteSpace(k) || k.Length < 8))
            failures.Add($"{GatewayOptions.Section}:ApiKeys entries must be at least 8 characters.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
