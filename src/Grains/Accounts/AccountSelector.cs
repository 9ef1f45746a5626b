using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// The selection policy. An account can serve when it is ready or its cooldown is over (never while it needs re-auth).
/// Its capacity is weight × the remaining fraction of its tightest reported window (1 when nothing was reported); its load
/// is the conversations the pool placed on it. A new conversation goes to the account with the lowest
/// (load + 1) / capacity, so conversations spread in proportion to remaining capacity; accounts under the reserve
/// fraction are used only when nothing else can serve. Ties go to the account configured first.
/// </summary>
internal sealed class AccountSelector
{
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

    public bool CanServe(string account, DateTimeOffset now) => Find(account)?.Health.CanServe(now) == true;

    public string? Pick(IReadOnlyCollection<string> exclude, DateTimeOffset now, bool count = true)
    {
        Entry? best = null;
        var bestScore = double.MaxValue;
        var bestReserved = true;
        foreach (var entry in _entries)
        {
            if (exclude.Contains(entry.Health.Name) || !entry.Health.CanServe(now)) continue;
            var remaining = entry.Health.Usage is { } usage && (usage.PrimaryResetsAt ?? usage.SecondaryResetsAt ?? DateTimeOffset.MaxValue) > now
                ? usage.RemainingFraction : 1; // a window that has reset since it was reported is full again
            var capacity = entry.Health.Weight * Math.Max(remaining, 1e-6);
            var reserved = remaining < _options.ReserveFraction;
            var score = (entry.Conversations + 1) / capacity;
            if (best is null || (bestReserved && !reserved) || (reserved == bestReserved && score < bestScore))
                (best, bestScore, bestReserved) = (entry, score, reserved);
        }
        return best?.Health.Name;
    }

    /// <summary>Seconds until the first cooling or exhausted account serves again; null when none will by itself (re-auth).</summary>
    public int? EarliestReturnSeconds(DateTimeOffset now)
    {
        var earliest = _entries.Where(e => e.Health.State is AccountState.Cooling or AccountState.Exhausted && e.Health.CoolingUntil is not null)
            .Select(e => e.Health.CoolingUntil!.Value).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        return earliest == DateTimeOffset.MaxValue ? null : (int)Math.Max(1, Math.Ceiling((earliest - now).TotalSeconds));
    }

    public IReadOnlyList<AccountHealth> Snapshot() => _entries.Select(e => e.Health).ToList();

    private Entry? Find(string name) => _entries.FirstOrDefault(e => e.Health.Name == name);
}
