namespace CodexLb.Grains.Abstractions;

/// <summary>
/// The pool of upstream accounts (one activation cluster-wide, key <see cref="Key"/>): picks the account of a new
/// conversation by remaining capacity, keeps each conversation on its account, and moves it when that account cannot
/// serve. Holds every account's latest <see cref="AccountHealth"/> (pushed by the account grains).
/// </summary>
/// <remarks>
/// Extension point for operators' views (e.g. <c>GET /admin/usage</c>): <see cref="GetHealth"/> returns one
/// <see cref="AccountHealth"/> per configured account, in configuration order, with no secret in it.
/// </remarks>
public interface IAccountPoolGrain : IGrainWithStringKey
{
    public const string Key = "pool";

    /// <summary>
    /// The account a conversation runs on: its current one while that can serve and is not in <paramref name="exclude"/>,
    /// otherwise the best other one (recorded as the conversation's account). <see cref="AccountAssignment.Account"/> is
    /// null when no account can serve; then <see cref="AccountAssignment.RetryAfterSeconds"/> says when one can again.
    /// </summary>
    Task<AccountAssignment> Assign(string conversationKey, string[] exclude);

    /// <summary>The account a conversation is on, without assigning one (null: none recorded; the best account then).</summary>
    Task<AccountAssignment> Peek(string? conversationKey);

    /// <summary>The conversation's grain deactivated: it no longer counts as its account's load (its account is remembered).</summary>
    [Orleans.Concurrency.OneWay]
    Task Release(string conversationKey);

    /// <summary>An account's health changed (one-way, from its grain).</summary>
    [Orleans.Concurrency.OneWay]
    Task Update(AccountHealth health);

    /// <summary>Every configured account's latest health, in configuration order.</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<IReadOnlyList<AccountHealth>> GetHealth();
}

/// <param name="Account">The account's name; null when every account is cooling, exhausted or needs re-auth.</param>
/// <param name="Moved">The conversation ran on another account before (what it produced there may be bound to that account).</param>
[GenerateSerializer, Immutable]
public sealed record AccountAssignment(
    [property: Id(0)] string? Account,
    [property: Id(1)] bool Moved,
    [property: Id(2)] int? RetryAfterSeconds = null);

/// <summary>Whether an account takes new work.</summary>
public enum AccountState
{
    Ready,
    /// <summary>Rate limited (429 / Retry-After): back after <see cref="AccountHealth.CoolingUntil"/>.</summary>
    Cooling,
    /// <summary>A usage window or the quota is spent (usage_limit_reached, insufficient_quota): back at its reset.</summary>
    Exhausted,
    /// <summary>The provider refused its credentials and a refresh did not help: new credentials are needed.</summary>
    ReauthRequired,
}

/// <summary>One account's health as operators and the selector see it. No secret in it.</summary>
[GenerateSerializer, Immutable]
public sealed record AccountHealth
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public AccountState State { get; init; }
    [Id(2)] public DateTimeOffset? CoolingUntil { get; init; }
    [Id(3)] public string? LastError { get; init; }
    [Id(4)] public double Weight { get; init; } = 1;
    [Id(5)] public string? Plan { get; init; }
    [Id(6)] public string Kind { get; init; } = "api_key";
    [Id(7)] public AccountUsage? Usage { get; init; }
    [Id(8)] public int OpenSockets { get; init; }
    [Id(9)] public int InFlightTurns { get; init; }
    [Id(10)] public long Turns { get; init; }
    [Id(11)] public long InputTokens { get; init; }
    [Id(12)] public long OutputTokens { get; init; }
    [Id(13)] public long TokenRefreshes { get; init; }
    [Id(14)] public DateTimeOffset? TokenExpiresAt { get; init; }
    [Id(15)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>weight × remaining fraction of the tightest reported window (1 when nothing was reported).</summary>
    public double Capacity => Weight * (Usage?.RemainingFraction ?? 1);
}
