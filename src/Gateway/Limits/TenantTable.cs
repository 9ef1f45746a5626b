using System.Collections.Concurrent;

namespace CodexLb.Gateway.Limits;

/// <summary>
/// Per-tenant state made on first use. Tenants are API keys, but with no keys configured every made-up token is a tenant
/// of its own: entries found idle are dropped whenever the table doubled since it was last pruned, so made-up tokens
/// cannot grow it without bound and a busy table is walked rarely. An entry dropped while a request was about to use it
/// lets that tenant hold one request more for a moment; only idle entries are dropped, so that is rare.
/// </summary>
internal sealed class TenantTable<T>(Func<T> create, Func<T, bool> idle) where T : class
{
    private const int FirstPrune = 4096;
    private readonly ConcurrentDictionary<string, T> _entries = new(StringComparer.Ordinal);
    private int _pruneAt = FirstPrune;

    public int Count => _entries.Count;

    public T For(string tenant)
    {
        if (_entries.TryGetValue(tenant, out var entry)) return entry;
        if (_entries.Count >= Volatile.Read(ref _pruneAt)) Prune();
        return _entries.GetOrAdd(tenant, static (_, create) => create(), create);
    }

    private void Prune()
    {
        lock (_entries)
        {
            if (_entries.Count < _pruneAt) return; // another request pruned it meanwhile
            foreach (var pair in _entries)
                if (idle(pair.Value)) _entries.TryRemove(pair);
            Volatile.Write(ref _pruneAt, Math.Max(FirstPrune, 2 * _entries.Count));
        }
    }
}
