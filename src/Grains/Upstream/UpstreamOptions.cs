using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Upstream;

/// <summary>The model provider the conversation grains talk to (<c>CodexLb:Upstream</c>).</summary>
public sealed class UpstreamOptions
{
    public const string Section = "CodexLb:Upstream";

    /// <summary>Base URL; the websocket is <c>{BaseUrl}/responses</c> (http/https map to ws/wss).</summary>
    public Uri BaseUrl { get; set; } = new("https://api.openai.com/v1");

    /// <summary>Sent as <c>Authorization: Bearer …</c> on the upstream handshake. Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>ChatGPT accounts only: sent as <c>chatgpt-account-id</c>.</summary>
    public string? AccountId { get; set; }

    /// <summary>
    /// Sends every turn upstream with <c>store:false</c> whatever the client asked (the ChatGPT Codex backend refuses
    /// anything else). Unset: true when <see cref="BaseUrl"/> is a ChatGPT backend (<c>/backend-api/</c>), otherwise the
    /// client's <c>store</c> is forwarded as sent. Either way the response object the client gets says what was stored.
    /// </summary>
    public bool? RequireStoreFalse { get; set; }

    /// <summary>The <c>store</c> value to send upstream for a client's choice (null: send none, the provider's default).</summary>
    public bool? UpstreamStore(bool? clientStore) => UpstreamStore(clientStore, IsBackendApi(BaseUrl));

    /// <summary>The same for an account whose base URL is (or is not) a ChatGPT backend (<see cref="IsBackendApi"/>).</summary>
    public bool? UpstreamStore(bool? clientStore, bool backendApi) => RequireStoreFalse ?? backendApi ? false : clientStore;

    /// <summary>A ChatGPT backend (it refuses <c>store: true</c>); read once per socket, not per turn.</summary>
    public static bool IsBackendApi(Uri baseUrl) => baseUrl.AbsolutePath.Contains("/backend-api/", StringComparison.OrdinalIgnoreCase);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a sent request may wait for <c>response.created</c> before it counts as lost.</summary>
    public TimeSpan FirstEventTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Longest silence inside a streaming response before the turn is failed (retryable).</summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How often a waiting turn tells its gateway the owner is alive (the gateway's owner timeout must exceed it).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>An upstream socket with no turn for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(900);

    /// <summary>Sockets are replaced before the provider's 60-minute connection limit.</summary>
    public TimeSpan MaxSocketAge { get; set; } = TimeSpan.FromMinutes(55);

    /// <summary>Upstream sockets one silo may hold; at the bound the longest-idle one is closed to make room.</summary>
    public int MaxSocketsPerSilo { get; set; } = 5_000;

    /// <summary>Turns that may wait behind the running one in a conversation before 429 <c>bridge_queue_full</c>.</summary>
    public int TurnQueueLimit { get; set; } = 8;

    /// <summary>
    /// Largest conversation (sum of its items' JSON bytes) a grain keeps and forwards. A turn that would grow past it is
    /// answered 400 <c>context_length_exceeded</c> (nothing is stored or sent): no model window holds more, and the
    /// client's remedy, compaction, is the same one the provider would demand.
    /// </summary>
    public long MaxContextBytes { get; set; } = 64L * 1024 * 1024;

    public Uri WebSocketUri => WebSocketUriFor(BaseUrl);

    public static Uri WebSocketUriFor(Uri baseUrl)
    {
        var builder = new UriBuilder(baseUrl);
        builder.Scheme = builder.Scheme switch { "https" => "wss", "http" => "ws", var s => s };
        builder.Path = builder.Path.TrimEnd('/') + "/responses";
        return builder.Uri;
    }
}

public sealed class UpstreamOptionsValidator : IValidateOptions<UpstreamOptions>
{
    public ValidateOptionsResult Validate(string? name, UpstreamOptions options)
    {
        var failures = new List<string>();
        if (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https" or "ws" or "wss"))
            failures.Add($"{UpstreamOptions.Section}:BaseUrl must be an absolute http(s) or ws(s) URL.");
        if (options.MaxSocketAge <= TimeSpan.Zero || options.MaxSocketAge >= TimeSpan.FromMinutes(60))
            failures.Add($"{UpstreamOptions.Section}:MaxSocketAge must be positive and under the provider's 60-minute limit.");
        if (options.MaxContextBytes < 1024)
            failures.Add($"{UpstreamOptions.Section}:MaxContextBytes must be at least 1024.");
        if (options.MaxSocketsPerSilo < 1)
            failures.Add($"{UpstreamOptions.Section}:MaxSocketsPerSilo must be at least 1.");
        if (options.TurnQueueLimit is < 0 or > 1000)
            failures.Add($"{UpstreamOptions.Section}:TurnQueueLimit must be between 0 and 1000.");
        foreach (var (value, key) in new[] { (options.ConnectTimeout, "ConnectTimeout"), (options.FirstEventTimeout, "FirstEventTimeout"),
                     (options.StreamIdleTimeout, "StreamIdleTimeout"), (options.IdleTimeout, "IdleTimeout"), (options.HeartbeatInterval, "HeartbeatInterval") })
            if (value <= TimeSpan.Zero) failures.Add($"{UpstreamOptions.Section}:{key} must be positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
