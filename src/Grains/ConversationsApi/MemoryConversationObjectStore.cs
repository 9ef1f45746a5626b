using System.Collections.Concurrent;
using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.ConversationsApi;

/// <summary>
/// The embedded default's conversations, in process memory. Like the Redis store they expire
/// <see cref="StateOptions.Retention"/> after their last use: an expired one is dropped when met, and every 1,024th create
/// sweeps the rest.
/// </summary>
public sealed class MemoryConversationObjectStore(IOptions<StateOptions> options, TimeProvider clock) : IConversationObjectStore
{
    private const int SweepEvery = 1024;

    private sealed class Entry(ConversationRecord record, IReadOnlyList<byte[]> items)
    {
        public ConversationRecord Record = record;
        public long Next = items.Count;
        public readonly List<byte[]> Items = [.. items];
        public readonly HashSet<string> Responses = [];
        public DateTimeOffset Expires;
    }

    private readonly ConcurrentDictionary<(string Tenant, string Id), Entry> _conversations = new();
    private int _creates;

    public Task CreateAsync(string tenant, string id, ConversationRecord record, IReadOnlyList<byte[]> items)
    {
        if (Interlocked.Increment(ref _creates) % SweepEvery == 0) Sweep();
        _conversations[(tenant, id)] = new Entry(record, items) { Expires = clock.GetUtcNow() + options.Value.Retention };
        return Task.CompletedTask;
    }

    public Task<ConversationRecord?> LoadAsync(string tenant, string id) => Task.FromResult(Use(tenant, id, e => e.Record));

    public Task<ConversationRecord?> SetMetadataAsync(string tenant, string id, string metadataJson) =>
        Task.FromResult(Use(tenant, id, e => e.Record = e.Record with { MetadataJson = metadataJson }));

    public Task<bool> DeleteAsync(string tenant, string id) =>
        Task.FromResult(Use(tenant, id, _ => true) && _conversations.TryRemove((tenant, id), out _));

    public Task<long?> ReserveAsync(string tenant, string id, int count) => Task.FromResult(Use(tenant, id, e => (long?)((e.Next += count) - count)));

    public Task<bool> AppendAsync(string tenant, string id, IReadOnlyList<byte[]> items, ConversationHeadMove? head = null) =>
        Task.FromResult(Use(tenant, id, e =>
        {
            if (head is { } again && !e.Responses.Add(again.ResponseId)) return true; // a retried call: added already
            e.Items.AddRange(items);
            var version = e.Record.Version + 1;
            e.Record = head is { } move && move.StartedAtVersion == e.Record.Version
                ? e.Record with
                {
                    Version = version, Head = move.ResponseId, HeadVersion = version, HeadBase = move.Base, HeadInput = move.InputHash,
                    HeadAddedAtMs = move.AddedAtMs, HeadItemCount = items.Count,
                }
                : e.Record with { Version = version };
            return true;
        }));

    public Task<List<byte[]>?> ItemsAsync(string tenant, string id) => Task.FromResult(Use(tenant, id, e => e.Items.ToList()));

    public Task<bool> RemoveItemAsync(string tenant, string id, byte[] item) =>
        Task.FromResult(Use(tenant, id, e =>
        {
            var index = e.Items.FindIndex(i => i.AsSpan().SequenceEqual(item));
            if (index < 0) return false;
            e.Items.RemoveAt(index);
            e.Record = e.Record with { Version = e.Record.Version + 1 };
            return true;
        }));

    /// <summary>Runs <paramref name="use"/> on a live conversation under its lock, refreshing its lifetime; default when there is none.</summary>
    private T? Use<T>(string tenant, string id, Func<Entry, T> use)
    {
        if (!_conversations.TryGetValue((tenant, id), out var entry)) return default;
        var now = clock.GetUtcNow();
        lock (entry)
        {
            if (entry.Expires <= now)
            {
                _conversations.TryRemove(new KeyValuePair<(string, string), Entry>((tenant, id), entry));
                return default;
            }
            entry.Expires = now + options.Value.Retention;
            return use(entry);
        }
    }

    private void Sweep()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, entry) in _conversations)
            if (entry.Expires <= now) _conversations.TryRemove(new KeyValuePair<(string, string), Entry>(key, entry));
    }
}
