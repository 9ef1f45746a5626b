namespace CodexLb.Grains.Accounts;

/// <summary>
/// One upstream account (<c>CodexLb:Accounts:N</c>): a platform API key (<see cref="ApiKey"/> or a mounted Secret file,
/// <see cref="ApiKeyFile"/>) or a ChatGPT account (<see cref="AccessToken"/> + <see cref="RefreshToken"/> +
/// <see cref="AccountId"/>, or a Codex CLI <c>auth.json</c>, <see cref="AuthFile"/>). Secrets are never logged.
/// </summary>
public sealed class AccountOptions
{
    public string Name { get; set; } = "";

    /// <summary>Platform API key, sent as <c>Authorization: Bearer</c>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>A file holding the API key (a Kubernetes Secret): re-read when it changes, so a key rotates without a restart.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Default <c>CodexLb:Upstream:BaseUrl</c>.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Share of new conversations relative to the other accounts at equal remaining capacity (default 1).</summary>
    public double Weight { get; set; } = 1;

    /// <summary>Informational (plus, pro, team, api…): shown in the account's health.</summary>
    public string? Plan { get; set; }

    /// <summary>ChatGPT: the OAuth access token (a JWT whose <c>exp</c> says when it expires).</summary>
    public string? AccessToken { get; set; }

    /// <summary>ChatGPT: the refresh token, exchanged at <see cref="TokenUrl"/> before the access token expires.</summary>
    public string? RefreshToken { get; set; }

    /// <summary>ChatGPT: the workspace id, sent as <c>chatgpt-account-id</c>.</summary>
    public string? AccountId { get; set; }

    /// <summary>A Codex CLI <c>auth.json</c> (<c>tokens.access_token</c>, <c>refresh_token</c>, <c>account_id</c>): re-read when it changes.</summary>
    public string? AuthFile { get; set; }

    public Uri TokenUrl { get; set; } = new("https://auth.openai.com/oauth/token");

    /// <summary>The OAuth client the tokens were issued to (the Codex CLI's).</summary>
    public string ClientId { get; set; } = "app_EMoamEEZ73f0CkXaXp7hrann";

    internal bool IsChatGpt => AccessToken is not null || RefreshToken is not null || AuthFile is not null;
}

/// <summary>How the pool picks and moves accounts (<c>CodexLb:Pool</c>).</summary>
public sealed class PoolOptions
{
    public const string Section = "CodexLb:Pool";

    /// <summary>Accounts a turn may try before its first byte (the first one included), each a different account.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Cooldown after a 429 that names no Retry-After.</summary>
    public TimeSpan RateLimitCooldown { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Cooldown after <c>usage_limit_reached</c> / <c>insufficient_quota</c> that names no reset time.</summary>
    public TimeSpan QuotaCooldown { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>An account whose credentials were refused is tried again after this (or as soon as its credential file changes).</summary>
    public TimeSpan AuthRetry { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>ChatGPT access tokens are refreshed this long before they expire.</summary>
    public TimeSpan RefreshBefore { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>An account with less than this fraction of its capacity left gets no new conversation while another has more.</summary>
    public double ReserveFraction { get; set; } = 0.02;

    /// <summary>Conversations whose account the pool remembers (least recently assigned forgotten first).</summary>
    public int StickyEntries { get; set; } = 200_000;
}
