using System.Collections.Concurrent;

namespace CodexLb.Grains.ConversationsApi;

/// <summary>The embedded default's conversations: in process memory, for as long as the process runs.</summary>
public sealed class MemoryConversationObjectStore : IConversationObjectStore
{
    private sealed class Entry(ConversationRecord record, IReadOnlyList<byte[]> items)
    {
        public ConversationRecord Record = record;
        public long Next = items.Count;
        public readonly List<byte[]> Items = [.. items];
    }

    private readonly ConcurrentDictionary<(string Tenant, string Id), Entry> _conversations = new();

    public Task CreateAsync(string tenant, string id, ConversationRecord record, IReadOnlyList<byte[]> items)
    {
        _conversations[(tenant, id)] = new Entry(record, items);
        return Task.CompletedTask;
    }

    public Task<ConversationRecord?> LoadAsync(string tenant, string id) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry) ? Locked(entry, e => e.Record) : null);

    public Task<ConversationRecord?> SetMetadataAsync(string tenant, string id, string metadataJson) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry)
            ? Locked(entry, e => e.Record = e.Record with { MetadataJson = metadataJson })
            : null);

    public Task<bool> DeleteAsync(string tenant, string id) => Task.FromResult(_conversations.TryRemove((tenant, id), out _));

    public Task<long?> ReserveAsync(string tenant, string id, int count) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry) ? Locked(entry, e => (long?)((e.Next += count) - count)) : null);

    public Task<bool> AppendAsync(string tenant, string id, IReadOnlyList<byte[]> items) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry) && Locked(entry, e => { e.Items.AddRange(items); return true; }));

    public Task<List<byte[]>?> ItemsAsync(string tenant, string id) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry) ? Locked(entry, e => e.Items.ToList()) : null);

    public Task<bool> RemoveItemAsync(string tenant, string id, byte[] item) =>
        Task.FromResult(_conversations.TryGetValue((tenant, id), out var entry) && Locked(entry, e => e.Items.RemoveAll(i => i.AsSpan().SequenceEqual(item)) > 0));

    private static T Locked<T>(Entry entry, Func<Entry, T> read)
    {
        lock (entry) return read(entry);
    }
}
