using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree.Native;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Tree;

/// <summary>
/// The embedded default: the response tree in this process's memory, with the same expiry rules as
/// <see cref="RedisResponseTreeStore"/> (TTL <c>R+s</c> for nodes, index entries and heads, <c>R+s+M</c> for tombstones,
/// the same ancestor refresh rule), timed by <see cref="TimeProvider"/>. One lock guards everything: each operation is
/// short, and a path walk must see one consistent tree. Expired entries are dropped when met and by a sweep at most
/// once per slack, so memory is bounded by what was used within the retention.
/// <para>
/// Nodes live for the retention, and a busy process holds millions of them. So the tree is kept off the collector's heap:
/// a stored node is one <see cref="NodeBlob"/> in native memory, and the tables naming nodes (by <see cref="TenantKey"/>
/// hashes, not strings) are <see cref="NativeTable{TKey,TValue}"/>s, in shards (<see cref="ShardedTable{TKey,TValue}"/>) so that
/// no growth holds the lock for long. A collection neither walks them nor counts their
/// growth; on the managed heap, the pinned blobs and the tables' large arrays had the runtime start a full background
/// collection every few hundred megabytes stored. Nothing is shared with the caller; reads decode fresh objects, under the
/// lock that also guards every free. <see cref="Dispose"/> frees it all.
/// </para>
/// </summary>
public sealed class MemoryResponseTreeStore(IOptions<StateOptions> options, TimeProvider time) : IResponseTreeStore, IDisposable
{
    /// <summary>Longest path walked; deeper (or cyclic) paths cannot be rebuilt and load as expired.</summary>
    public const int MaxDepth = 100_000;

    private readonly TreeTtls _ttls = TreeTtls.From(options.Value);
    private readonly Lock _lock = new();
    private readonly ShardedTable<TenantKey, NodeEntry> _nodes = new();
    private readonly ShardedTable<TenantKey, Tombstone> _tombstones = new();
    private readonly ShardedTable<ChainKey, IndexEntry> _index = new();
    private readonly ShardedTable<TenantKey, IndexEntry> _items = new(); // output item id -> the node that output it
    private readonly Dictionary<string, HeadEntry> _heads = new(StringComparer.Ordinal); // one per conversation
    // Short-lived (gone at append), and written once per turn while every other operation holds the lock: its own
    // concurrent map, so marking a response pending never waits for (or spins on) the tree's lock.
    private readonly ConcurrentDictionary<TenantKey, PendingEntry> _pending = new();

    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;
    private bool _disposed;

    /// <summary>How many entries (nodes, tombstones, index and item entries, heads, pending ids) are held, expired or not: for tests and diagnostics.</summary>
    public int EntryCount
    {
        get { lock (_lock) return _nodes.Count + _tombstones.Count + _index.Count + _items.Count + _heads.Count + _pending.Count; }
    }

    public Task<ConversationHead> ClaimAsync(string conversationKey, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            // A new head starts from the clock, so epochs keep rising even after an idle head expired.
            if (!_heads.TryGetValue(conversationKey, out var head) || head.Expires <= now)
                _heads[conversationKey] = head = new HeadEntry { Epoch = now.ToUnixTimeMilliseconds() };
            else head.Epoch++;
            head.Expires = now + _ttls.Node;
            return Task.FromResult(new ConversationHead(head.Epoch, head.Id, head.Turns));
        }
    }

    public Task<bool> HasConversationAsync(string conversationKey, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            return Task.FromResult(_heads.TryGetValue(conversationKey, out var head) && head.Expires > now);
        }
    }

    public Task<bool> AppendAsync(long epoch, ResponseNode node, CancellationToken cancellationToken)
    {
        // Copied before taking the lock: the copy is the longest step of an append (a fenced or repeated one wastes it).
        var blob = NativeBlob.Allocate(NodeBlob.EncodedLength(node));
        NodeBlob.Write(node, blob.Bytes);
        var kept = false;
        try
        {
            return Task.FromResult(Append(epoch, node, blob, ref kept));
        }
        finally
        {
            if (!kept) blob.Free();
        }
    }

    private bool Append(long epoch, ResponseNode node, NativeBlob blob, ref bool kept)
    {
        lock (_lock)
        {
            var now = Now();
            if (!_heads.TryGetValue(node.ConversationKey, out var head) || head.Expires <= now || head.Epoch != epoch)
                return false;

            var tenant = ConversationKey.TenantSpanOf(node.ConversationKey);
            var key = TenantKey.Of(tenant, node.Id);
            if (LiveNode(key, tenant, node.Id, now) is null)
            {
                // Inherit the parent's refresh time while it is within the slack; otherwise refresh its whole path now.
                var refreshed = now;
                if (!string.IsNullOrEmpty(node.ParentId))
                {
                    if (LiveNode(tenant, node.ParentId, now) is { } parent && parent.Refreshed >= now - _ttls.Slack) refreshed = parent.Refreshed;
                    else RefreshPath(Walk(tenant, node.ParentId, now).Nodes, now);
                }

                // Its tombstone is written when it expires (Expired), not with every turn.
                ref var stored = ref _nodes.GetValueRefOrAddDefault(key, out var taken);
                if (taken) stored.Blob.Free(); // another node with the same 128-bit key (LiveNode told them apart): the newer wins
                stored = new NodeEntry(blob, now + _ttls.Node, refreshed);
                kept = true;
                if (!node.Synthetic)
                {
                    _index.Set(new ChainKey(TenantOnly(tenant), node.Chain), new IndexEntry(key, now + _ttls.Node));
                    foreach (var item in node.OutputIds ?? [])
                        if (item.Length > 0) _items.Set(TenantKey.Of(tenant, item), new IndexEntry(key, now + _ttls.Node));
                }
            }

            _pending.TryRemove(key, out _);
            head.Id = node.Id;
            head.Turns++;
            head.Expires = now + _ttls.Node;
            return true;
        }
    }

    /// <summary>A tenant's own key in the chain index (a node's tenant is checked when an entry is read).</summary>
    private static TenantKey TenantOnly(ReadOnlySpan<char> tenant) => TenantKey.Of(tenant, []);

    private static TenantKey TenantOnly(ReadOnlySpan<byte> tenantUtf8) => TenantKey.Of(tenantUtf8, []);

    public Task<NodePath> LoadPathAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            var (path, complete) = Walk(tenant, responseId, now);
            if (path.Count == 0)
            {
                if (_pending.TryGetValue(TenantKey.Of(tenant, responseId), out var pending) && pending.Expires > now) return Task.FromResult(NodePath.Pending);
                return Task.FromResult(Gone(tenant, responseId, now) == ResponseStatus.Expired ? NodePath.Expired : NodePath.Unknown);
            }
            if (!complete) return Task.FromResult(NodePath.Expired);

            // The rule appends use: a path refreshed within the slack already lives until now + R at least.
            if (path[0].Entry.Refreshed < now - _ttls.Slack)
            {
                RefreshPath(path, now);
                _nodes.GetValueRefOrNullRef(path[0].Key).Refreshed = now; // refreshed just above: present
            }
            return Task.FromResult(new NodePath(ResponseStatus.Found, [.. path.Select(node => NodeBlob.Decode(node.Entry.Blob.Bytes))]));
        }
    }

    public Task<ResponseLocation> LocateAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            if (LiveNode(tenant, responseId, now) is { } entry)
                return Task.FromResult(new ResponseLocation(ResponseStatus.Found, NodeBlob.Text(NodeBlob.Read(entry.Blob.Bytes).ConversationKey)));
            if (_pending.TryGetValue(TenantKey.Of(tenant, responseId), out var pending) && pending.Expires > now)
                return Task.FromResult(new ResponseLocation(ResponseStatus.Found, pending.ConversationKey));
            return Task.FromResult(Gone(tenant, responseId, now) == ResponseStatus.Expired ? ResponseLocation.Expired : ResponseLocation.Unknown);
        }
    }

    public Task MarkPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken)
    {
        // Not under the lock: the sweep that drops expired entries runs there, and an entry's expiry needs no sweep to hold.
        _pending[TenantKey.Of(ConversationKey.TenantSpanOf(conversationKey), responseId)] = new PendingEntry(conversationKey, time.GetUtcNow() + _ttls.Pending);
        return Task.CompletedTask;
    }

    public Task MarkResumableAsync(string conversationKey, string responseId, byte[] resumable, CancellationToken cancellationToken)
    {
        _pending[TenantKey.Of(ConversationKey.TenantSpanOf(conversationKey), responseId)] =
            new PendingEntry(conversationKey, time.GetUtcNow() + _ttls.Pending, Resumable: resumable);
        return Task.CompletedTask;
    }

    public Task RefreshPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken)
    {
        var key = TenantKey.Of(ConversationKey.TenantSpanOf(conversationKey), responseId);
        var expires = time.GetUtcNow() + _ttls.Pending;
        _pending.AddOrUpdate(key, static (_, arg) => new PendingEntry(arg.conversationKey, arg.expires),
            static (_, entry, arg) => entry with { Expires = arg.expires }, (conversationKey, expires));
        return Task.CompletedTask;
    }

    public Task<byte[]?> LoadResumableAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            return Task.FromResult(LiveNode(tenant, responseId, now) is null && _pending.TryGetValue(TenantKey.Of(tenant, responseId), out var pending)
                && pending.Expires > now && pending.Final is null ? pending.Resumable : null);
        }
    }

    public Task SettleAsync(string conversationKey, string responseId, byte[] response, CancellationToken cancellationToken)
    {
        var key = TenantKey.Of(ConversationKey.TenantSpanOf(conversationKey), responseId);
        if (_pending.TryGetValue(key, out var pending)) _pending.TryUpdate(key, pending with { Final = response }, pending);
        return Task.CompletedTask;
    }

    public Task<ContentMatch?> FindByContentAsync(string tenant, IReadOnlyList<ulong> prefixChains, CancellationToken cancellationToken,
        LastReference? reference = null)
    {
        lock (_lock)
        {
            var now = Now();
            var pending = reference;
            var tenantKey = TenantOnly(tenant);
            for (var k = prefixChains.Count; k >= 1; k--)
            {
                // The prefixes no longer reach the last reference: the node that output its item is the better base.
                if (pending is { } r && k <= r.Index)
                {
                    if (ReferencedNode(tenant, r.ItemId, now) is { } referenced) return Task.FromResult<ContentMatch?>(referenced);
                    pending = null;
                }
                var chain = new ChainKey(tenantKey, prefixChains[k - 1]);
                if (!_index.TryGetValue(chain, out var hit)) continue;
                if (hit.Expires <= now) { _index.Remove(chain); continue; }
                if (Match(hit.Node, tenant, null, k, now) is { } match) return Task.FromResult<ContentMatch?>(match);
            }

            return Task.FromResult(pending is { } last && prefixChains.Count > 0 ? ReferencedNode(tenant, last.ItemId, now) : null);
        }
    }

    private ContentMatch? ReferencedNode(string tenant, string itemId, DateTimeOffset now)
    {
        var key = TenantKey.Of(tenant, itemId);
        if (!_items.TryGetValue(key, out var entry)) return null;
        if (entry.Expires <= now) { _items.Remove(key); return null; }
        return Match(entry.Node, tenant, itemId, 0, now);
    }

    /// <summary>The live node an index or item entry names, if it is the tenant's (and output <paramref name="itemId"/>).</summary>
    private ContentMatch? Match(TenantKey key, string tenant, string? itemId, int prefixLength, DateTimeOffset now)
    {
        if (Live(key, now) is not { } entry) return null;
        var node = NodeBlob.Read(entry.Blob.Bytes);
        if (!node.InTenant(tenant) || (itemId is not null && !node.OutputIds.Contains(itemId))) return null;
        return new ContentMatch(NodeBlob.Text(node.Id), NodeBlob.Text(node.ConversationKey), prefixLength);
    }

    public Task<StoredResponse> LoadResponseAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            if (LiveNode(tenant, responseId, now) is { } entry)
            {
                var node = NodeBlob.Read(entry.Blob.Bytes);
                var items = NodeItemsCodec.Decode(node.Items);
                var outputs = Math.Clamp(node.OutputCount, 0, items.Count);
                return Task.FromResult(new StoredResponse(ResponseStatus.Found, NodeBlob.Text(node.ConversationKey),
                    node.HasResponse ? node.Response.ToArray() : null, items.GetRange(items.Count - outputs, outputs)));
            }
            if (_pending.TryGetValue(TenantKey.Of(tenant, responseId), out var pending) && pending.Expires > now)
                return Task.FromResult(new StoredResponse(ResponseStatus.Found, pending.ConversationKey, pending.Final, [], Pending: pending.Final is null));
            return Task.FromResult(Gone(tenant, responseId, now) == ResponseStatus.Expired ? StoredResponse.Expired : StoredResponse.Unknown);
        }
    }

    public Task<bool> DeleteAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = Now();
            var key = TenantKey.Of(tenant, responseId);
            if (LiveNode(key, tenant, responseId, now) is not { } entry) return Task.FromResult(false);
            _nodes.Remove(key);
            entry.Blob.Free();
            _pending.TryRemove(key, out _);
            _tombstones.Set(key, new Tombstone(now + _ttls.Tombstone, Deleted: true));
            return Task.FromResult(true);
        }
    }

    /// <summary>Why a response without a live node is gone: expired (its tombstone remembers it) or unknown (never issued, or deleted).</summary>
    private ResponseStatus Gone(string tenant, string responseId, DateTimeOffset now) =>
        _tombstones.TryGetValue(TenantKey.Of(tenant, responseId), out var tombstone) && tombstone.Until > now && !tombstone.Deleted
            ? ResponseStatus.Expired : ResponseStatus.Unknown;

    /// <summary>The current time; sweeps everything expired when the last sweep is a slack ago (nothing expires much sooner).</summary>
    private DateTimeOffset Now()
    {
        ObjectDisposedException.ThrowIf(_disposed, this); // every operation under the lock starts here
        var now = time.GetUtcNow();
        if (now >= _nextSweep) Sweep(now);
        return now;
    }

    // Apart from Now: the sweep's lambdas capture the time, and a closure made on every call was one object per operation.
    private void Sweep(DateTimeOffset now)
    {
        _nextSweep = now + _ttls.Slack;
        _nodes.RemoveWhere((_, entry) => entry.Expires <= now, Buried);
        _tombstones.RemoveWhere((_, tombstone) => tombstone.Until <= now);
        _index.RemoveWhere((_, entry) => entry.Expires <= now);
        _items.RemoveWhere((_, entry) => entry.Expires <= now);
        foreach (var (key, head) in _heads) if (head.Expires <= now) _heads.Remove(key);
        foreach (var pending in _pending) if (pending.Value.Expires <= now) _pending.TryRemove(pending); // not one marked again meanwhile
    }

    private NodeEntry? LiveNode(ReadOnlySpan<char> tenant, string id, DateTimeOffset now) => LiveNode(TenantKey.Of(tenant, id), tenant, id, now);

    /// <summary>The tenant's live node <paramref name="id"/> (<paramref name="key"/>): one that only shares its key's hash is absent.</summary>
    private NodeEntry? LiveNode(TenantKey key, ReadOnlySpan<char> tenant, string id, DateTimeOffset now) =>
        Live(key, now) is { } entry && NodeBlob.Read(entry.Blob.Bytes).Is(tenant, id) ? entry : null;

    /// <summary>The node stored under a key, unless it expired (then it is dropped).</summary>
    private NodeEntry? Live(TenantKey key, DateTimeOffset now)
    {
        if (!_nodes.TryGetValue(key, out var entry)) return null;
        if (entry.Expires > now) return entry;
        Expired(key, entry);
        return null;
    }

    /// <summary>
    /// Drops an expired node, leaving its tombstone: the id says "expired" for the expired memory after the node's own
    /// expiry (what a tombstone written and refreshed with the node would say, without a write per turn).
    /// </summary>
    private void Expired(TenantKey key, NodeEntry entry)
    {
        _nodes.Remove(key);
        Buried(key, entry);
    }

    /// <summary>An expired node out of the table: its bytes are freed and its tombstone written.</summary>
    private void Buried(TenantKey key, NodeEntry entry)
    {
        entry.Blob.Free();
        _tombstones.TryAdd(key, new Tombstone((DateTimeOffset)entry.Expires + (_ttls.Tombstone - _ttls.Node), Deleted: false));
    }

    /// <summary>The live nodes from <paramref name="id"/> to its root, newest first; incomplete when one is missing or the path is too deep.</summary>
    private (List<PathNode> Nodes, bool Complete) Walk(ReadOnlySpan<char> tenant, string id, DateTimeOffset now)
    {
        var path = new List<PathNode>();
        var key = TenantKey.Of(tenant, id);
        if (LiveNode(key, tenant, id, now) is not { } entry) return (path, false);
        path.Add(new PathNode(key, entry));
        while (NodeBlob.Read(path[^1].Entry.Blob.Bytes) is { HasParent: true } child)
        {
            // A parent is named by its id within the child's tenant, which the first node was checked against.
            key = TenantKey.Of(child.Tenant, child.ParentId);
            if (path.Count >= MaxDepth || Live(key, now) is not { } parent) return (path, false);
            var found = NodeBlob.Read(parent.Blob.Bytes);
            if (!found.Id.SequenceEqual(child.ParentId) || !found.Tenant.SequenceEqual(child.Tenant)) return (path, false);
            path.Add(new PathNode(key, parent));
        }

        return (path, true);
    }

    /// <summary>Extends every node of a path and its index and item entries (only while they still name it) to a full retention.</summary>
    private void RefreshPath(List<PathNode> path, DateTimeOffset now)
    {
        foreach (var (key, entry) in path)
        {
            ref var stored = ref _nodes.GetValueRefOrNullRef(key);
            if (!Unsafe.IsNullRef(ref stored)) stored.Expires = now + _ttls.Node;
            var node = NodeBlob.Read(entry.Blob.Bytes);
            if (node.Synthetic) continue;
            ref var indexed = ref _index.GetValueRefOrNullRef(new ChainKey(TenantOnly(node.Tenant), node.Chain));
            if (!Unsafe.IsNullRef(ref indexed) && indexed.Node == key) indexed.Expires = now + _ttls.Node;
            foreach (var item in node.OutputIds)
            {
                ref var output = ref _items.GetValueRefOrNullRef(TenantKey.Of(node.Tenant, item));
                if (!Unsafe.IsNullRef(ref output) && output.Node == key) output.Expires = now + _ttls.Node;
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _nodes.ForEachValue(entry => entry.Blob.Free());
            _nodes.Dispose();
            _tombstones.Dispose();
            _index.Dispose();
            _items.Dispose();
            _heads.Clear();
            _pending.Clear();
        }
    }

    // Entries are structs without references, held in native tables. A path's entries are copies; refreshing writes
    // through to the table.

    /// <param name="Blob">The node (<see cref="NodeBlob"/>), in native memory: freed when the entry leaves the table.</param>
    /// <param name="Refreshed">When this node's whole path was last refreshed (Redis field <c>r</c>).</param>
    private record struct NodeEntry(NativeBlob Blob, UtcInstant Expires, UtcInstant Refreshed);

    private readonly record struct PathNode(TenantKey Key, NodeEntry Entry);

    /// <summary>A chain index key: the tenant's own key (<see cref="TenantOnly(ReadOnlySpan{char})"/>) and the chain hash.</summary>
    private readonly record struct ChainKey(TenantKey Tenant, ulong Chain);

    private readonly record struct Tombstone(UtcInstant Until, bool Deleted);

    /// <summary>A chain's or an output item's entry: the node it names (checked against the node's tenant when read).</summary>
    private record struct IndexEntry(TenantKey Node, UtcInstant Expires);

    private record struct PendingEntry(string ConversationKey, DateTimeOffset Expires, byte[]? Final = null, byte[]? Resumable = null);

    private sealed class HeadEntry
    {
        public long Epoch { get; set; }
        public string? Id { get; set; }
        public int Turns { get; set; }
        public DateTimeOffset Expires { get; set; }
    }
}

/// <summary>
/// The expiry rules both stores share: R = retention, s = min(1 day, R/10) the refresh slack, M = expired memory. A started
/// response stays routable (pending) for <see cref="StateOptions.PendingLifetime"/> past its owner's last refresh, and
/// never past R+s.
/// </summary>
internal readonly record struct TreeTtls(TimeSpan Slack, TimeSpan Node, TimeSpan Tombstone, TimeSpan Pending)
{
    public static TreeTtls From(StateOptions options)
    {
        var slack = TimeSpan.FromTicks(Math.Min(TimeSpan.FromDays(1).Ticks, options.Retention.Ticks / 10));
        var node = options.Retention + slack;
        return new TreeTtls(slack, node, node + options.ExpiredMemory, TimeSpan.FromTicks(Math.Min(options.PendingLifetime.Ticks, node.Ticks)));
    }
}
