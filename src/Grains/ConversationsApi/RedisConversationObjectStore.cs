using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CodexLb.Grains.ConversationsApi;

/// <summary>
/// Production: a conversation is a hash <c>{prefix}{tenant}:cv:{id}</c> (c created at, m metadata JSON or "", n items
/// numbered so far, v its version, h and hv its head response and the version it was added at, hb hi ht hk where the head's
/// turn started, its input's fingerprint, when it was added and how many items it added, r:{response} for each
/// response added) and a list <c>{prefix}{tenant}:cvi:{id}</c> of its items; the tenant is the keys' hash tag. Both expire
/// <see cref="StateOptions.Retention"/> after the conversation was last used (read or written), as responses do.
/// </summary>
public sealed class RedisConversationObjectStore(IConnectionMultiplexer redis, string keyPrefix, IOptions<StateOptions> options) : IConversationObjectStore
{
    // KEYS: hash, list. ARGV: TTL ms. Refreshes both and returns the record's fields (c, m, v, h, hv, hb, hi, ht, hk), or nil.
    private static readonly LuaScript Load = LuaScript.Prepare("""
        local f = redis.call('HMGET', KEYS[1], 'c', 'm', 'v', 'h', 'hv', 'hb', 'hi', 'ht', 'hk')
        if not f[1] then return nil end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return f
        """);

    // KEYS: hash, list. ARGV: TTL ms, metadata. Returns {c, m}, or nil.
    private static readonly LuaScript SetMetadata = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        redis.call('HSET', KEYS[1], 'm', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return redis.call('HMGET', KEYS[1], 'c', 'm', 'v', 'h', 'hv', 'hb', 'hi', 'ht', 'hk')
        """);

    // KEYS: hash. ARGV: count. Returns the counter after the reservation, or nil.
    private static readonly LuaScript Reserve = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        return redis.call('HINCRBY', KEYS[1], 'n', ARGV[1])
        """);

    // KEYS: hash, list. ARGV: TTL ms, head response id or "", the version its turn started from, the head that turn continued
    // or "", its input's fingerprint, when (unix ms), items... Returns 1, or
    // 0 when the conversation is gone. The response becomes the head only when nothing changed the items since its turn began;
    // a response added before is not added again (a retried call; 'h' marks those added before the r: fields existed).
    private static readonly LuaScript Append = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if ARGV[2] ~= '' then
          if redis.call('HEXISTS', KEYS[1], 'r:' .. ARGV[2]) == 1 or redis.call('HGET', KEYS[1], 'h') == ARGV[2] then return 1 end
          redis.call('HSET', KEYS[1], 'r:' .. ARGV[2], 1)
        end
        local before = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
        if #ARGV > 6 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 7)) end
        local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
        if ARGV[2] ~= '' and tonumber(ARGV[3]) == before then
          redis.call('HSET', KEYS[1], 'h', ARGV[2], 'hv', version, 'hb', ARGV[4], 'hi', ARGV[5], 'ht', ARGV[6], 'hk', #ARGV - 6)
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return 1
        """);

    // KEYS: hash, list. ARGV: the item. Returns 1 when it was removed (a new version), else 0.
    private static readonly LuaScript Remove = LuaScript.Prepare("""
        if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then return 0 end
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
        return 1
        """);

    // KEYS: hash, list. ARGV: TTL ms. Returns {1, items...}, or nil.
    private static readonly LuaScript Items = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        local items = redis.call('LRANGE', KEYS[2], 0, -1)
        table.insert(items, 1, '1')
        return items
        """);

    private long TtlMs => (long)options.Value.Retention.TotalMilliseconds;

    public async Task CreateAsync(string tenant, string id, ConversationRecord record, IReadOnlyList<byte[]> items)
    {
        var (hash, list) = Keys(tenant, id);
        var batch = redis.GetDatabase().CreateTransaction();
        var ttl = options.Value.Retention;
        var writes = new List<Task>
        {
            batch.HashSetAsync(hash, [new("c", record.CreatedAt), new("m", record.MetadataJson ?? ""), new("n", items.Count)]),
            batch.KeyDeleteAsync(list),
            batch.KeyExpireAsync(hash, ttl),
        };
        if (items.Count > 0)
        {
            writes.Add(batch.ListRightPushAsync(list, [.. items.Select(i => (RedisValue)i)]));
            writes.Add(batch.KeyExpireAsync(list, ttl));
        }
        await batch.ExecuteAsync();
        await Task.WhenAll(writes);
    }

    public async Task<ConversationRecord?> LoadAsync(string tenant, string id)
    {
        var (hash, list) = Keys(tenant, id);
        return Record(await Evaluate(Load, [hash, list], [TtlMs]));
    }

    public async Task<ConversationRecord?> SetMetadataAsync(string tenant, string id, string metadataJson)
    {
        var (hash, list) = Keys(tenant, id);
        return Record(await Evaluate(SetMetadata, [hash, list], [TtlMs, metadataJson]));
    }

    public async Task<bool> DeleteAsync(string tenant, string id)
    {
        var (hash, list) = Keys(tenant, id);
        return await redis.GetDatabase().KeyDeleteAsync([hash, list]) > 0;
    }

    public async Task<long?> ReserveAsync(string tenant, string id, int count)
    {
        var (hash, _) = Keys(tenant, id);
        var result = await Evaluate(Reserve, [hash], [count]);
        return result.IsNull ? null : (long)result - count;
    }

    public async Task<bool> AppendAsync(string tenant, string id, IReadOnlyList<byte[]> items, ConversationHeadMove? head = null)
    {
        var (hash, list) = Keys(tenant, id);
        RedisValue[] values = [TtlMs, head?.ResponseId ?? "", head?.StartedAtVersion ?? -1, head?.Base ?? "", head?.InputHash ?? 0, head?.AddedAtMs ?? 0,
            .. items.Select(i => (RedisValue)i)];
        return (long)await Evaluate(Append, [hash, list], values) == 1;
    }

    public async Task<List<byte[]>?> ItemsAsync(string tenant, string id)
    {
        var (hash, list) = Keys(tenant, id);
        var result = await Evaluate(Items, [hash, list], [TtlMs]);
        if (result.IsNull) return null;
        var values = (RedisResult[])result!;
        return [.. values.Skip(1).Select(v => (byte[])v!)];
    }

    public async Task<bool> RemoveItemAsync(string tenant, string id, byte[] item)
    {
        var (hash, list) = Keys(tenant, id);
        return (long)await Evaluate(Remove, [hash, list], [item]) == 1;
    }

    private Task<RedisResult> Evaluate(LuaScript script, RedisKey[] keys, RedisValue[] values) =>
        redis.GetDatabase().ScriptEvaluateAsync(script.ExecutableScript, keys, values);

    private static ConversationRecord? Record(RedisResult result)
    {
        if (result.IsNull) return null;
        var fields = (RedisValue[])result!;
        var metadata = (string?)fields[1];
        return new ConversationRecord((long)fields[0], string.IsNullOrEmpty(metadata) ? null : metadata)
        {
            Version = fields[2].IsNull ? 0 : (long)fields[2],
            Head = fields[3].IsNull ? null : (string?)fields[3],
            HeadVersion = fields[4].IsNull ? -1 : (long)fields[4],
            HeadBase = fields[5].IsNullOrEmpty ? null : (string?)fields[5],
            HeadInput = fields[6].IsNull ? 0 : (ulong)fields[6],
            HeadAddedAtMs = fields[7].IsNull ? 0 : (long)fields[7],
            HeadItemCount = fields[8].IsNull ? 0 : (int)fields[8],
        };
    }

    private (string Hash, string List) Keys(string tenant, string id)
    {
        var b = $"{keyPrefix}{{{tenant}}}:";
        return (b + "cv:" + id, b + "cvi:" + id);
    }
}
