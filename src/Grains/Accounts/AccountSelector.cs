using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// The selection policy, in tiers. Tier 0: ready accounts with at least the reserve fraction of their capacity left;
/// tier 1: ready accounts under it; tier 2: rate-limited (cooling) accounts, soonest back first — used only when nothing
/// better can serve, because the provider, not the bridge, has the last word on a transient 429; tier 3: accounts whose
/// credentials were refused, only when nothing else can serve at all. Exhausted accounts never serve until their reset. Within tiers 0 and 1 an account's capacity is
/// weight × the remaining fraction of its tightest reported window (1 when nothing was reported, or the window has reset
/// since) and its load is the active conversations the pool placed on it: a new conversation goes to the lowest
/// (load + 1) / capacity, so conversations spread in proportion to remaining capacity. Ties go to the account configured first.
/// </summary>
internal sealed class AccountSelector
{
    public const int Unservable = int.MaxValue;
    private const int CoolingTier = 2, LastResortTier = 3;

    private readonly PoolOptions _options;
    private readonly List<Entry> _entries;

    private sealed class Entry(AccountHealth health)
    {
        public AccountHealth Health { get; set; } = health;
        public int Conversations { get; set; }
    }

    public AccountSelector(IReadOnlyList<AccountOptions> accounts, PoolOptions options)
    {
        _options = options;
        _entries = accounts.Select(a => new Entry(new AccountHealth
        {
            Name = a.Name, Weight = a.Weight, Plan = a.Plan, Kind = a.IsChatGpt ? "chatgpt" : "api_key",
        })).ToList();
    }

    public void Update(AccountHealth health)
    {
        if (Find(health.Name) is { } entry && health.UpdatedAt >= entry.Health.UpdatedAt) entry.Health = health;
    }

    public void AddConversation(string account, int delta)
    {
        if (Find(account) is { } entry) entry.Conversations = Math.Max(0, entry.Conversations + delta);
    }

    /// <summary>0 (ready), 1 (ready, under the reserve), 2 (cooling), 3 (re-auth needed) or <see cref="Unservable"/> (exhausted).</summary>
    public int Tier(string account, DateTimeOffset now) => Find(account) is { } entry ? Tier(entry.Health, now) : Unservable;

    private int Tier(AccountHealth health, DateTimeOffset now)
    {
        var over = health.CoolingUntil is not { } until || until <= now;
        return health.State switch
        {
            AccountState.Ready => Remaining(health, now) < _options.ReserveFraction ? 1 : 0,
            AccountState.Cooling => over ? 0 : CoolingTier,
            AccountState.Exhausted => over ? 0 : Unservable,
            _ => over ? 0 : LastResortTier, // re-auth: a full try once AuthRetry has passed
        };
    }

    private static double Remaining(AccountHealth health, DateTimeOffset now) =>
        health.Usage is { } usage && (usage.PrimaryResetsAt ?? usage.SecondaryResetsAt ?? DateTimeOffset.MaxValue) > now ? usage.RemainingFraction : 1;

    /// <summary>The best account not in <paramref name="exclude"/>, with its tier; null when none can serve.</summary>
    public (string? Account, int Tier) Pick(IReadOnlyCollection<string> exclude, DateTimeOffset now)
    {
        Entry? best = null;
        var bestTier = Unservable;
        var bestScore = double.MaxValue;
        foreach (var entry in _entries)
        {
            if (exclude.Contains(entry.Health.Name)) continue;
            var tier = Tier(entry.Health, now);
            if (tier == Unservable) continue;
            var score = tier >= CoolingTier
                ? (entry.Health.CoolingUntil ?? now).ToUnixTimeMilliseconds()
                : (entry.Conversations + 1) / (entry.Health.Weight * Math.Max(Remaining(entry.Health, now), 1e-6));
            if (tier < bestTier || (tier == bestTier && score < bestScore)) (best, bestTier, bestScore) = (entry, tier, score);
        }
        return (best?.Health.Name, bestTier);
    }

    /// <summary>Seconds until the first account outside <paramref name="exclude"/> that cannot serve now serves again; null when none will by itself.</summary>
    public int? EarliestReturnSeconds(IReadOnlyCollection<string> exclude, DateTimeOffset now)
    {
        var earliest = _entries.Where(e => !exclude.Contains(e.Health.Name) && e.Health.State is AccountState.Cooling or AccountState.Exhausted
                && e.Health.CoolingUntil is not null)
            .Select(e => e.Health.CoolingUntil!.Value).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        return earliest == DateTimeOffset.MaxValue ? null : (int)Math.Max(1, Math.Ceiling((earliest - now).TotalSeconds));
    }

    public IReadOnlyList<AccountHealth> Snapshot() => _entries.Select(e => e.Health).ToList();

    private Entry? Find(string name) => _entries.FirstOrDefault(e => e.Health.Name == name);
}
