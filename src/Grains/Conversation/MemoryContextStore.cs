using System.Collections.Concurrent;

namespace CodexLb.Grains.Conversation;

/// <summary>The embedded default's context store: per silo process, gone with it (like memory grain storage).</summary>
public sealed class MemoryContextStore : IConversationContextStore
{
    private readonly ConcurrentDictionary<string, List<byte[]>> _items = new();

    public Task<List<byte[]>> LoadAsync(string conversationKey, CancellationToken cancellationToken)
    {
        if (!_items.TryGetValue(conversationKey, out var list)) return Task.FromResult(new List<byte[]>());
        lock (list) return Task.FromResult(new List<byte[]>(list));
    }

    public Task SaveAsync(string conversationKey, int keep, IReadOnlyList<byte[]> appended, CancellationToken cancellationToken)
    {
        var list = _items.GetOrAdd(conversationKey, _ => []);
        lock (list)
        {
            if (list.Count > keep) list.RemoveRange(keep, list.Count - keep);
            list.AddRange(appended);
        }
        return Task.CompletedTask;
    }
}
