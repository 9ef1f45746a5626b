using StackExchange.Redis;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// Production context store: one Redis list per conversation. A save is one Lua call that trims the list to the kept
/// prefix and appends the turn's items, so a turn writes only what it added and a partial write is impossible.
/// </summary>
public sealed class RedisContextStore(IConnectionMultiplexer redis, string keyPrefix) : IConversationContextStore
{
    private static readonly LuaScript Save = LuaScript.Prepare("""
        local keep = tonumber(ARGV[1])
        if keep == 0 then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, keep - 1) end
        for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
        return redis.call('LLEN', KEYS[1])
        """);

    private RedisKey Key(string conversationKey) => keyPrefix + conversationKey;

    public async Task<List<byte[]>> LoadAsync(string conversationKey, CancellationToken cancellationToken)
    {
        var values = await redis.GetDatabase().ListRangeAsync(Key(conversationKey));
        return [.. values.Select(v => (byte[])v!)];
    }

    public async Task SaveAsync(string conversationKey, int keep, IReadOnlyList<byte[]> appended, CancellationToken cancellationToken)
    {
        var args = new RedisValue[appended.Count + 1];
        args[0] = keep;
        for (var i = 0; i < appended.Count; i++) args[i + 1] = appended[i];
        await redis.GetDatabase().ScriptEvaluateAsync(Save.ExecutableScript, [Key(conversationKey)], args);
    }
}
