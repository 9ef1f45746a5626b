using CodexLb.Grains.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// The configured upstream accounts (<c>CodexLb:Accounts:N</c>), or, when none are, a pool of one named
/// <see cref="DefaultName"/> with <c>CodexLb:Upstream:ApiKey</c>/<c>AccountId</c> (the single-credential setup keeps working).
/// </summary>
public sealed class AccountCatalog
{
    public const string Section = "CodexLb:Accounts";
    public const string DefaultName = "default";

    public AccountCatalog(IConfiguration configuration, IOptions<UpstreamOptions> upstream)
    {
        var configured = new List<AccountOptions>();
        configuration.GetSection(Section).Bind(configured);
        var baseUrl = upstream.Value.BaseUrl;
        foreach (var account in configured) account.BaseUrl ??= baseUrl;
        Accounts = configured.Count > 0 ? configured
            : [new AccountOptions { Name = DefaultName, ApiKey = upstream.Value.ApiKey, AccountId = upstream.Value.AccountId, BaseUrl = baseUrl }];
        Configured = configured.Count > 0;
        foreach (var account in Accounts) _byName.TryAdd(account.Name, account); // duplicates fail validation
    }

    private readonly Dictionary<string, AccountOptions> _byName = new(StringComparer.Ordinal);

    /// <summary>In configuration order.</summary>
    public IReadOnlyList<AccountOptions> Accounts { get; }

    /// <summary>False for the implicit pool of one.</summary>
    public bool Configured { get; }

    public AccountOptions? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Start-up validation: messages name the key, never a value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Accounts.Count && Configured; i++)
        {
            var a = Accounts[i];
            var key = $"{Section}:{i}";
            if (string.IsNullOrWhiteSpace(a.Name) || a.Name.Length > 64 || !a.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                failures.Add($"{key}:Name must be 1-64 characters of letters, digits, '-', '_' or '.'.");
            else if (!names.Add(a.Name)) failures.Add($"{key}:Name '{a.Name}' is used by another account.");
            var sources = new[] { a.ApiKey, a.ApiKeyFile, a.AccessToken ?? a.RefreshToken, a.AuthFile }.Count(s => !string.IsNullOrEmpty(s));
            if (sources != 1)
                failures.Add($"{key} must have exactly one credential: ApiKey, ApiKeyFile, AccessToken (with RefreshToken/AccountId) or AuthFile.");
            foreach (var (file, name) in new[] { (a.ApiKeyFile, "ApiKeyFile"), (a.AuthFile, "AuthFile") })
                if (!string.IsNullOrEmpty(file) && !File.Exists(file)) failures.Add($"{key}:{name} names a file that does not exist.");
            if (!double.IsFinite(a.Weight) || a.Weight <= 0) failures.Add($"{key}:Weight must be a positive number.");
            if (a.BaseUrl is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https" or "ws" or "wss")))
                failures.Add($"{key}:BaseUrl must be an absolute http(s) or ws(s) URL.");
            if (!a.TokenUrl.IsAbsoluteUri || a.TokenUrl.Scheme is not ("http" or "https"))
                failures.Add($"{key}:TokenUrl must be an absolute http(s) URL.");
        }
        return failures;
    }
}

/// <summary>Validates the accounts and the pool knobs at start-up (the process stops with a message naming the key).</summary>
public sealed class PoolOptionsValidator(AccountCatalog catalog) : IValidateOptions<PoolOptions>
{
    public ValidateOptionsResult Validate(string? name, PoolOptions options)
    {
        var failures = new List<string>(catalog.Validate());
        if (options.MaxAttempts is < 1 or > 10) failures.Add($"{PoolOptions.Section}:MaxAttempts must be between 1 and 10.");
        if (options.StickyEntries < 1) failures.Add($"{PoolOptions.Section}:StickyEntries must be at least 1.");
        if (options.ReserveFraction is < 0 or >= 1) failures.Add($"{PoolOptions.Section}:ReserveFraction must be in [0, 1).");
        foreach (var (value, key) in new[] { (options.RateLimitCooldown, "RateLimitCooldown"), (options.QuotaCooldown, "QuotaCooldown"),
                     (options.AuthRetry, "AuthRetry"), (options.RefreshBefore, "RefreshBefore") })
            if (value < TimeSpan.Zero) failures.Add($"{PoolOptions.Section}:{key} must not be negative.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
