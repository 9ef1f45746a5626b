using Orleans.Concurrency;

namespace CodexLb.Grains.Abstractions;

/// <summary>
/// One upstream account (keyed by its configured name), one activation cluster-wide: its credentials (re-read from their
/// file when it changes, ChatGPT tokens refreshed before they expire) and its health (cooldowns, auth failures, usage
/// windows, sockets and turns in flight). A conversation asks it for credentials once per connect and reports outcomes
/// one-way; it pushes its health to <see cref="IAccountPoolGrain"/>.
/// </summary>
public interface IAccountGrain : IGrainWithStringKey
{
    /// <summary>Credentials for one upstream connect, or why the account takes none now (cooling, re-auth needed).</summary>
    Task<AccountLease> Lease();

    /// <summary>What a connect or a turn on this account ended in (never awaited by the conversation).</summary>
    [OneWay]
    Task Report(AccountReport report);

    /// <summary>
    /// The provider refused the credentials a lease carried (401/403). True when the account will refresh them at its next
    /// lease (a ChatGPT token, the first refusal since it last changed): worth one more try on it. False when it needs re-auth.
    /// </summary>
    Task<bool> CredentialsRefused();

    [AlwaysInterleave]
    Task<AccountHealth> GetHealth();
}

/// <summary>
/// Credentials for one connect. Carries a secret: never log it (<see cref="ToString"/> says only the account and state).
/// </summary>
[GenerateSerializer, Immutable]
public sealed class AccountLease
{
    [Id(0)] public required string Account { get; init; }
    [Id(1)] public bool Available { get; init; }
    [Id(2)] public string? BaseUrl { get; init; }

    /// <summary>The bearer token (platform API key or ChatGPT access token).</summary>
    [Id(3)] public string? Token { get; init; }

    /// <summary>ChatGPT accounts: sent as <c>chatgpt-account-id</c>.</summary>
    [Id(4)] public string? AccountId { get; init; }

    /// <summary>Why it is not available, or why it is but not ready (a <see cref="AccountState"/> name), and when to try again.</summary>
    [Id(5)] public string? Reason { get; init; }
    [Id(6)] public int? RetryAfterSeconds { get; init; }

    public override string ToString() => Available ? $"lease({Account})" : $"lease({Account}: {Reason})";
}

/// <summary>What happened on an account, as a conversation saw it.</summary>
public enum AccountEvent
{
    // Explicit values: silos of two versions talk during a rolling deploy (2 and 3 were per-turn reports, now Turns).
    /// <summary>A socket opened (counted until <see cref="SocketClosed"/>).</summary>
    SocketOpened = 0,
    SocketClosed = 1,
    /// <summary>429 / rate_limit_exceeded: cool down for <see cref="AccountReport.RetryAfterSeconds"/>.</summary>
    RateLimited = 4,
    /// <summary>usage_limit_reached / insufficient_quota: cool down until <see cref="AccountReport.ResetsAt"/>.</summary>
    QuotaExhausted = 5,
    /// <summary>401/403: the credentials were refused (a ChatGPT token is refreshed once; otherwise re-auth is needed).</summary>
    AuthFailed = 6,
    /// <summary>
    /// A silo's turns on the account since its last batch (<see cref="AccountReport.TurnsStarted"/>,
    /// <see cref="AccountReport.TurnsEnded"/>, their tokens): one message per account and silo a few times a second, not
    /// two per turn.
    /// </summary>
    Turns = 7,
}

[GenerateSerializer, Immutable]
public sealed record AccountReport
{
    [Id(0)] public AccountEvent Event { get; init; }
    [Id(1)] public int? RetryAfterSeconds { get; init; }
    [Id(2)] public DateTimeOffset? ResetsAt { get; init; }
    [Id(3)] public string? Code { get; init; }

    /// <summary>The latest usage the provider reported (handshake headers or a <c>codex.rate_limits</c> event), if any.</summary>
    [Id(4)] public AccountUsage? Usage { get; init; }
    [Id(5)] public long InputTokens { get; init; }
    [Id(6)] public long OutputTokens { get; init; }
    [Id(7)] public int TurnsStarted { get; init; }
    [Id(8)] public int TurnsEnded { get; init; }
}

/// <summary>
/// Usage the provider reported: the ChatGPT windows (<c>x-codex-primary-*</c> / <c>codex.rate_limits</c>: a 5-hour and a
/// weekly window, used percent and reset time) and the platform's request/token budgets (<c>x-ratelimit-*</c>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AccountUsage
{
    [Id(0)] public double? PrimaryUsedPercent { get; init; }
    [Id(1)] public int? PrimaryWindowMinutes { get; init; }
    [Id(2)] public DateTimeOffset? PrimaryResetsAt { get; init; }
    [Id(3)] public double? SecondaryUsedPercent { get; init; }
    [Id(4)] public int? SecondaryWindowMinutes { get; init; }
    [Id(5)] public DateTimeOffset? SecondaryResetsAt { get; init; }
    [Id(6)] public long? RequestsLimit { get; init; }
    [Id(7)] public long? RequestsRemaining { get; init; }
    [Id(8)] public long? TokensLimit { get; init; }
    [Id(9)] public long? TokensRemaining { get; init; }
    [Id(10)] public DateTimeOffset ObservedAt { get; init; }

    /// <summary>
    /// The fraction of the account's capacity left (0..1): the tightest of the reported windows and budgets; 1 when the
    /// provider reported nothing.
    /// </summary>
    public double RemainingFraction
    {
        get
        {
            var left = 1.0;
            if (PrimaryUsedPercent is { } p) left = Math.Min(left, 1 - p / 100);
            if (SecondaryUsedPercent is { } s) left = Math.Min(left, 1 - s / 100);
            if (RequestsLimit is > 0 && RequestsRemaining is { } r) left = Math.Min(left, (double)r / RequestsLimit.Value);
            if (TokensLimit is > 0 && TokensRemaining is { } t) left = Math.Min(left, (double)t / TokensLimit.Value);
            return Math.Clamp(left, 0, 1);
        }
    }
}
