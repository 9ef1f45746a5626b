using CodexLb.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// The pool: every account's latest health, which conversation is on which account (bounded, least recently assigned
/// forgotten first), and how many active conversations each account carries. It stays active; when it is lost (its silo
/// died) it starts over from the accounts' health, and conversations keep the account they already hold.
/// </summary>
public sealed class AccountPoolGrain(AccountCatalog catalog, IOptions<PoolOptions> poolOptions, TimeProvider time) : Grain, IAccountPoolGrain
{
    private readonly AccountSelector _selector = new(catalog.Accounts, poolOptions.Value);
    private readonly Dictionary<string, LinkedListNode<Sticky>> _sticky = new(StringComparer.Ordinal);
    private readonly LinkedList<Sticky> _recency = new();

    /// <summary>A conversation's account; <see cref="Active"/> while its grain is (it counts as that account's load).</summary>
    private sealed record Sticky(string Conversation, string Account, bool Moved)
    {
        public bool Active { get; set; } = true;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DelayDeactivation(TimeSpan.FromDays(3650));
        var healths = await Task.WhenAll(catalog.Accounts.Select(a => GrainFactory.GetGrain<IAccountGrain>(a.Name).GetHealth()));
        foreach (var health in healths) _selector.Update(health);
    }

    public Task<AccountAssignment> Assign(string conversationKey, string[] exclude)
    {
        var now = time.GetUtcNow();
        _sticky.TryGetValue(conversationKey, out var node);
        var (best, bestTier) = _selector.Pick(exclude, now);
        // Sticky: a conversation stays on its account while that can serve and nothing strictly better (a ready account
        // for one that is cooling) exists; the reserve tier does not move anyone.
        if (node is { Value: var current } && !exclude.Contains(current.Account)
            && _selector.Tier(current.Account, now) is var tier && tier != AccountSelector.Unservable && Math.Max(tier, 1) <= Math.Max(bestTier, 1))
        {
            Touch(node);
            if (!current.Active)
            {
                current.Active = true;
                _selector.AddConversation(current.Account, 1);
            }
            return Task.FromResult(new AccountAssignment(current.Account, current.Moved));
        }
        if (best is null) return Task.FromResult(new AccountAssignment(null, node?.Value.Moved ?? false, _selector.EarliestReturnSeconds(exclude, now)));
        var moved = node is not null && (node.Value.Moved || node.Value.Account != best);
        if (node is not null) Forget(node);
        Remember(new Sticky(conversationKey, best, moved));
        return Task.FromResult(new AccountAssignment(best, moved));
    }

    public Task<AccountAssignment> Peek(string? conversationKey)
    {
        if (conversationKey is not null && _sticky.TryGetValue(conversationKey, out var node))
            return Task.FromResult(new AccountAssignment(node.Value.Account, node.Value.Moved));
        var now = time.GetUtcNow();
        return Task.FromResult(new AccountAssignment(_selector.Pick([], now).Account, false, _selector.EarliestReturnSeconds([], now)));
    }

    public Task Release(string conversationKey)
    {
        if (_sticky.TryGetValue(conversationKey, out var node) && node.Value.Active)
        {
            node.Value.Active = false;
            _selector.AddConversation(node.Value.Account, -1);
        }
        return Task.CompletedTask;
    }

    public Task Update(AccountHealth health)
    {
        _selector.Update(health);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AccountHealth>> GetHealth() => Task.FromResult(_selector.Snapshot());

    private void Remember(Sticky sticky)
    {
        _sticky[sticky.Conversation] = _recency.AddFirst(sticky);
        _selector.AddConversation(sticky.Account, 1);
        while (_sticky.Count > poolOptions.Value.StickyEntries && _recency.Last is { } oldest) Forget(oldest);
    }

    private void Forget(LinkedListNode<Sticky> node)
    {
        _recency.Remove(node);
        _sticky.Remove(node.Value.Conversation);
        if (node.Value.Active) _selector.AddConversation(node.Value.Account, -1);
    }

    private void Touch(LinkedListNode<Sticky> node)
    {
        _recency.Remove(node);
        _recency.AddFirst(node);
    }
}
