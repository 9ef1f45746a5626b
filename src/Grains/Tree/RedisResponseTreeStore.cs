using System.Globalization;
using CodexLb.Grains.Abstractions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace CodexLb.Grains.Tree;

/// <summary>
/// Production response tree: every operation is one Lua call (one round trip), and every key has a TTL. Keys of a tenant
/// share a Redis Cluster slot through the hash tag <c>{tenant}</c>, which lets the scripts walk parent links server-side:
/// <list type="bullet">
/// <item><c>{prefix}{tenant}:n:{id}</c> node hash: c conversation, p parent ("" = root), n item count, h chain (16 hex),
/// i items (<see cref="NodeItemsCodec"/>, compressed from <see cref="StateOptions.CompressItemsAbove"/> bytes), s "1" when synthetic, r unix seconds of the last refresh of its whole path,
/// o the response envelope and k its output count (<see cref="ResponseNode.Response"/>), read only by retrieve, d its output
/// item ids joined by "\n" (<see cref="ResponseNode.OutputIds"/>, only when the client stores its responses).</item>
/// <item><c>{prefix}{tenant}:x:{id}</c> tombstone "1": the id was issued here (outlives the node by ExpiredMemory); "d" once
/// its client deleted it (the id then answers as never issued).</item>
/// <item><c>{prefix}{tenant}:h:{chain}</c> index entry "{id}\n{conversation}" (never for synthetic nodes).</item>
/// <item><c>{prefix}{tenant}:i:{item id}</c> output item entry "{id}\n{conversation}": the node that output an item its
/// client may name in an <c>item_reference</c> (for each id in d).</item>
/// <item><c>{prefix}{tenant}:head:{rest of conversation key}</c> head hash: e epoch, id last response, t turns.</item>
/// <item><c>{prefix}{tenant}:w:{id}</c> pending marker "{conversation}": a started response, routable before it completes.</item>
/// <item><c>{prefix}{tenant}:e:{id}</c> the final response object of a started response that ended without completing
/// (cancelled, failed, incomplete); it expires with its pending marker.</item>
/// <item><c>{prefix}{tenant}:r:{id}</c> what it takes to run a started background response again (its request, opaque
/// here); it expires with its pending marker, and goes with its node when its client deletes it.</item>
/// </list>
/// TTLs: nodes, index and item entries and heads R+s, tombstones R+s+M (R retention, s = min(1 day, R/10), M expired memory).
/// </summary>
public sealed class RedisResponseTreeStore(IConnectionMultiplexer redis, string keyPrefix, IOptions<StateOptions> options) : IResponseTreeStore
{
    /// <summary>Longest path walked; deeper (or cyclic) paths cannot be rebuilt and load as expired.</summary>
    public const int MaxDepth = 100_000;

    // Extends one node, its tombstone, its output item entries and its index entry, the entry only while it still names
    // this node (a later node with the same chain took it over, and keeps its own expiry). Item ids are the provider's,
    // unique: their entries name no other node.
    private const string RefreshFunction = """
        local function refresh(base, id, h, s, c, d, ttl, tombTtl)
          redis.call('PEXPIRE', base .. 'n:' .. id, ttl)
          redis.call('SET', base .. 'x:' .. id, '1', 'PX', tombTtl)
          if s ~= '1' then
            local index = base .. 'h:' .. h
            if redis.call('GET', index) == id .. '\n' .. c then redis.call('PEXPIRE', index, ttl) end
            if d then
              for item in string.gmatch(d, '[^\n]+') do redis.call('PEXPIRE', base .. 'i:' .. item, ttl) end
            end
          end
        end

        """;

    // KEYS: head. ARGV: node TTL ms. Returns {epoch, last id or nil, turns or nil}. A new head starts from the clock
    // (milliseconds), so epochs keep rising even after an idle head expired.
    private static readonly LuaScript Claim = LuaScript.Prepare("""
        local e
        if redis.call('HEXISTS', KEYS[1], 'e') == 1 then
          e = redis.call('HINCRBY', KEYS[1], 'e', 1)
        else
          local t = redis.call('TIME')
          e = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          redis.call('HSET', KEYS[1], 'e', string.format('%d', e))
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        local f = redis.call('HMGET', KEYS[1], 'id', 't')
        return {e, f[1], f[2]}
        """);

    // KEYS: 1 head, 2 node, 3 tombstone, 4 index entry, [5 parent node]. ARGV: 1 tenant base, 2 epoch, 3 id, 4 parent or '',
    // 5 conversation, 6 item count, 7 chain hex, 8 items, 9 synthetic '1'/'0', 10 node TTL ms, 11 tombstone TTL ms,
    // 12 slack ms, 13 max depth, 14 response envelope ('' = none), 15 output count, 16 output item ids ('' = none). The ancestors are refreshed only when the parent's path was last refreshed more than a
    // slack ago; otherwise the node inherits the parent's r (its path lives at least until r+R+s anyway).
    private static readonly LuaScript Append = LuaScript.Prepare(RefreshFunction + """
        if redis.call('HGET', KEYS[1], 'e') ~= ARGV[2] then return 0 end
        local base, id, parent = ARGV[1], ARGV[3], ARGV[4]
        local ttl, tombTtl = tonumber(ARGV[10]), tonumber(ARGV[11])
        if redis.call('EXISTS', KEYS[2]) == 0 then
          local now = redis.call('TIME')
          local r = now[1]
          if parent ~= '' then
            local pr = redis.call('HGET', KEYS[5], 'r')
            local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
            if pr and tonumber(pr) * 1000 >= nowMs - tonumber(ARGV[12]) then
              r = pr
            else
              local at, depth, maxDepth = parent, 0, tonumber(ARGV[13])
              while at ~= '' and depth < maxDepth do
                local f = redis.call('HMGET', base .. 'n:' .. at, 'p', 'h', 's', 'c', 'd')
                if not f[1] then break end
                refresh(base, at, f[2], f[3], f[4], f[5], ttl, tombTtl)
                at, depth = f[1], depth + 1
              end
            end
          end
          redis.call('HSET', KEYS[2], 'c', ARGV[5], 'p', parent, 'n', ARGV[6], 'h', ARGV[7], 'i', ARGV[8], 'r', r)
          if ARGV[14] ~= '' then redis.call('HSET', KEYS[2], 'o', ARGV[14], 'k', ARGV[15]) end
          if ARGV[9] == '1' then
            redis.call('HSET', KEYS[2], 's', '1')
          else
            redis.call('SET', KEYS[4], id .. '\n' .. ARGV[5], 'PX', ttl)
            if ARGV[16] ~= '' then
              redis.call('HSET', KEYS[2], 'd', ARGV[16])
              for item in string.gmatch(ARGV[16], '[^\n]+') do
                redis.call('SET', base .. 'i:' .. item, id .. '\n' .. ARGV[5], 'PX', ttl)
              end
            end
          end
          redis.call('PEXPIRE', KEYS[2], ttl)
          redis.call('SET', KEYS[3], '1', 'PX', tombTtl)
        end
        redis.call('DEL', base .. 'w:' .. id, base .. 'r:' .. id) -- no longer pending: the node answers for it
        redis.call('HSET', KEYS[1], 'id', id)
        redis.call('HINCRBY', KEYS[1], 't', 1)
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """);

    // KEYS: 1 start node, 2 its tombstone, 3 its pending marker. ARGV: 1 tenant base, 2 id, 3 node TTL ms, 4 tombstone TTL ms,
    // 5 max depth, 6 slack ms. Returns {0} unknown, {2} expired, {3} pending (started, never completed), or {1, then per node
    // newest first: id, c, p, n, h, i, s, d}. Reads the whole path before writing, so a path that cannot be rebuilt changes
    // nothing; writes only when the path was last refreshed more than a slack ago (the rule Append uses): within it, every
    // node already lives until at least now + R, and a human-paced conversation would otherwise rewrite its whole path
    // (five commands per node) on nearly every turn.
    private static readonly LuaScript LoadPath = LuaScript.Prepare(RefreshFunction + """
        local base, ttl, tombTtl, maxDepth = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local out, at, depth, r = {1}, ARGV[2], 0, false
        while at ~= '' do
          if depth >= maxDepth then return {2} end
          local f = redis.call('HMGET', base .. 'n:' .. at, 'c', 'p', 'n', 'h', 'i', 's', 'd', 'r')
          if not f[1] then
            if depth == 0 then
              if redis.call('EXISTS', KEYS[3]) == 1 then return {3} end
              local x = redis.call('GET', KEYS[2])
              if not x or x == 'd' then return {0} end
            end
            return {2}
          end
          if depth == 0 then r = f[8] end
          local o = #out
          out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6], out[o + 7], out[o + 8] = at, f[1], f[2], f[3], f[4], f[5], f[6] or '0', f[7] or ''
          at, depth = f[2], depth + 1
        end
        local now = redis.call('TIME')
        if r and tonumber(r) * 1000 >= tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[6]) then return out end
        for k = 2, #out, 8 do refresh(base, out[k], out[k + 4], out[k + 6], out[k + 1], out[k + 7], ttl, tombTtl) end
        redis.call('HSET', KEYS[1], 'r', now[1])
        return out
        """);

    // KEYS: 1 node, 2 tombstone, 3 pending marker. Returns {1, conversation}, {2} expired or {0} unknown.
    private static readonly LuaScript Locate = LuaScript.Prepare("""
        local c = redis.call('HGET', KEYS[1], 'c')
        if c then return {1, c} end
        local w = redis.call('GET', KEYS[3])
        if w then return {1, w} end
        local x = redis.call('GET', KEYS[2])
        if x and x ~= 'd' then return {2} end
        return {0}
        """);

    // KEYS: 1 node, 2 tombstone, 3 pending marker, 4 its final object. Returns {1, conversation, items, envelope, output
    // count}, {3, conversation} while pending, {4, conversation, final object} once it ended without completing, {2}
    // expired or {0} unknown.
    private static readonly LuaScript LoadResponse = LuaScript.Prepare("""
        local f = redis.call('HMGET', KEYS[1], 'c', 'i', 'o', 'k')
        if f[1] then return {1, f[1], f[2], f[3] or '', f[4] or '0'} end
        local w = redis.call('GET', KEYS[3])
        if w then
            local e = redis.call('GET', KEYS[4])
            if e then return {4, w, e} end
            return {3, w}
        end
        local x = redis.call('GET', KEYS[2])
        if x and x ~= 'd' then return {2} end
        return {0}
        """);

    // KEYS: 1 pending marker, 2 its final object. ARGV: 1 the object. Written to expire with the marker; nothing without one.
    private static readonly LuaScript Settle = LuaScript.Prepare("""
        local t = redis.call('PTTL', KEYS[1])
        if t > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', t) end
        return t
        """);

    // KEYS: 1 pending marker, 2 resumable. ARGV: 1 conversation, 2 TTL ms, 3 the resumable ('' = keep the one there, if any).
    private static readonly LuaScript Mark = LuaScript.Prepare("""
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2]) else redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
        return 1
        """);

    // KEYS: 1 node, 2 pending marker, 3 final object, 4 resumable. The resumable only of a response still pending.
    private static readonly LuaScript LoadResumable = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 0 or redis.call('EXISTS', KEYS[3]) == 1 then return false end
        return redis.call('GET', KEYS[4])
        """);

    // KEYS: 1 node, 2 tombstone, 3 pending marker, 4 resumable. ARGV: 1 tombstone TTL ms. Returns 1 when a node was deleted.
    private static readonly LuaScript Delete = LuaScript.Prepare("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
        redis.call('SET', KEYS[2], 'd', 'PX', ARGV[1])
        return 1
        """);

    // KEYS: 1 the longest prefix's index entry (routes the call to the tenant's slot). ARGV: 1 tenant base, 2 the last
    // referenced item id ('' = none), 3 how many input items reach it, 4.. chain hex, longest prefix first, so the first
    // live hit is the answer; once the prefixes no longer reach the reference, the node that output its item is.
    // Returns {id, conversation, k} (k 0 for a referenced item) or nil.
    private static readonly LuaScript Find = LuaScript.Prepare("""
        local base, ref, reach, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), #ARGV
        local function live(v, k)
          if not v then return nil end
          local nl = string.find(v, '\n', 1, true)
          local id = string.sub(v, 1, nl - 1)
          if redis.call('EXISTS', base .. 'n:' .. id) == 1 then return {id, string.sub(v, nl + 1), k} end
          return nil
        end
        for a = 4, n do
          local k = n - a + 1
          if ref ~= '' and k < reach then
            local hit = live(redis.call('GET', base .. 'i:' .. ref), 0)
            if hit then return hit end
            ref = ''
          end
          local hit = live(redis.call('GET', base .. 'h:' .. ARGV[a]), k)
          if hit then return hit end
        end
        if ref ~= '' then return live(redis.call('GET', base .. 'i:' .. ref), 0) or false end
        return false
        """);

    private readonly TreeTtls _ttls = TreeTtls.From(options.Value);
    private readonly int _compressItemsAbove = options.Value.CompressItemsAbove;

    public async Task<ConversationHead> ClaimAsync(string conversationKey, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var result = (RedisResult[])(await Eval(Claim, [HeadKey(conversationKey)], [Ms(_ttls.Node)]))!;
        return new ConversationHead((long)result[0], result[1].IsNull ? null : (string?)result[1], result[2].IsNull ? 0 : (int)result[2]);
    }

    public Task<bool> HasConversationAsync(string conversationKey, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return redis.GetDatabase().KeyExistsAsync(HeadKey(conversationKey));
    }

    /// <summary>
    /// A completed turn's write again when the connection failed under it (reset, or found broken while writing): the next
    /// attempt waits in the client's backlog until it reconnects (at most its async timeout), so a blip costs the turn a
    /// moment instead of a retryable failure its client would pay a second generation for. Safe because the append is
    /// idempotent (a node already written is kept as it is; the head moves to the same id; only its turn count is bumped
    /// again). A timeout is not retried: it already waited the client's whole timeout.
    /// </summary>
    private static readonly ResiliencePipeline AppendRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RedisConnectionException>(),
            MaxRetryAttempts = 2,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(100),
        })
        .Build();

    public async Task<bool> AppendAsync(long epoch, ResponseNode node, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(node.Tenant);
        var parent = node.ParentId ?? "";
        var chain = Hex(node.Chain);
        RedisKey[] keys = parent.Length == 0
            ? [HeadKey(node.ConversationKey), b + "n:" + node.Id, b + "x:" + node.Id, b + "h:" + chain]
            : [HeadKey(node.ConversationKey), b + "n:" + node.Id, b + "x:" + node.Id, b + "h:" + chain, b + "n:" + parent];
        RedisValue[] args =
        [
            b, epoch, node.Id, parent, node.ConversationKey, node.ItemCount, chain, NodeItemsCodec.Encode(node.Added, _compressItemsAbove),
            node.Synthetic ? "1" : "0", Ms(_ttls.Node), Ms(_ttls.Tombstone), Ms(_ttls.Slack), MaxDepth,
            node.Response ?? RedisValue.EmptyString, node.OutputCount,
            node.OutputIds is { Count: > 0 } ids ? string.Join('\n', ids) : RedisValue.EmptyString,
        ];
        return await AppendRetry.ExecuteAsync(static async (call, _) => (long)(await call.Store.Eval(Append, call.Keys, call.Args)) == 1,
            (Store: this, Keys: keys, Args: args), cancellationToken);
    }

    public async Task<NodePath> LoadPathAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(tenant);
        var result = (RedisResult[])(await Eval(LoadPath, [b + "n:" + responseId, b + "x:" + responseId, b + "w:" + responseId],
            [b, responseId, Ms(_ttls.Node), Ms(_ttls.Tombstone), MaxDepth, Ms(_ttls.Slack)]))!;
        switch ((int)result[0])
        {
            case (int)ResponseStatus.Unknown: return NodePath.Unknown;
            case (int)ResponseStatus.Expired: return NodePath.Expired;
            case (int)ResponseStatus.Pending: return NodePath.Pending;
        }

        var nodes = new List<ResponseNode>((result.Length - 1) / 8);
        for (var k = 1; k < result.Length; k += 8)
        {
            var parent = (string)result[k + 2]!;
            nodes.Add(new ResponseNode(
                Id: (string)result[k]!,
                ParentId: parent.Length == 0 ? null : parent,
                ConversationKey: (string)result[k + 1]!,
                ItemCount: (int)result[k + 3],
                Chain: ulong.Parse((string)result[k + 4]!, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture),
                Added: NodeItemsCodec.Decode((byte[])result[k + 5]!),
                Synthetic: (string?)result[k + 6] == "1",
                OutputIds: (string?)result[k + 7] is { Length: > 0 } ids ? ids.Split('\n') : null));
        }

        return new NodePath(ResponseStatus.Found, nodes);
    }

    public async Task<ResponseLocation> LocateAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(tenant);
        var result = (RedisResult[])(await Eval(Locate, [b + "n:" + responseId, b + "x:" + responseId, b + "w:" + responseId], []))!;
        return (int)result[0] switch
        {
            (int)ResponseStatus.Found => new ResponseLocation(ResponseStatus.Found, (string?)result[1]),
            (int)ResponseStatus.Expired => ResponseLocation.Expired,
            _ => ResponseLocation.Unknown,
        };
    }

    public async Task<StoredResponse> LoadResponseAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(tenant);
        var result = (RedisResult[])(await Eval(LoadResponse, [b + "n:" + responseId, b + "x:" + responseId, b + "w:" + responseId, b + "e:" + responseId], []))!;
        switch ((int)result[0])
        {
            case 1:
                var items = NodeItemsCodec.Decode((byte[])result[2]!);
                var envelope = (byte[])result[3]!;
                var outputs = Math.Clamp((int)result[4], 0, items.Count);
                return new StoredResponse(ResponseStatus.Found, (string?)result[1], envelope.Length == 0 ? null : envelope, items.GetRange(items.Count - outputs, outputs));
            case 3:
                return new StoredResponse(ResponseStatus.Found, (string?)result[1], null, [], Pending: true);
            case 4:
                return new StoredResponse(ResponseStatus.Found, (string?)result[1], (byte[])result[2]!, []);
            case (int)ResponseStatus.Expired:
                return StoredResponse.Expired;
            default:
                return StoredResponse.Unknown;
        }
    }

    public async Task<bool> DeleteAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(tenant);
        return (long)(await Eval(Delete, [b + "n:" + responseId, b + "x:" + responseId, b + "w:" + responseId, b + "r:" + responseId], [Ms(_ttls.Tombstone)])) == 1;
    }

    public Task MarkPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken) =>
        redis.GetDatabase().StringSetAsync(Base(ConversationKey.TenantOf(conversationKey)) + "w:" + responseId, conversationKey,
            _ttls.Pending, flags: CommandFlags.FireAndForget);

    public async Task MarkResumableAsync(string conversationKey, string responseId, byte[] resumable, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(ConversationKey.TenantOf(conversationKey));
        await Eval(Mark, [b + "w:" + responseId, b + "r:" + responseId], [conversationKey, Ms(_ttls.Pending), resumable]);
    }

    public Task RefreshPendingAsync(string conversationKey, string responseId, CancellationToken cancellationToken)
    {
        var b = Base(ConversationKey.TenantOf(conversationKey));
        return redis.GetDatabase().ScriptEvaluateAsync(Mark.ExecutableScript, [b + "w:" + responseId, b + "r:" + responseId],
            [conversationKey, Ms(_ttls.Pending), RedisValue.EmptyString], CommandFlags.FireAndForget);
    }

    public async Task<byte[]?> LoadResumableAsync(string tenant, string responseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(tenant);
        var result = await Eval(LoadResumable, [b + "n:" + responseId, b + "w:" + responseId, b + "e:" + responseId, b + "r:" + responseId], []);
        return result.IsNull ? null : (byte[]?)result;
    }

    public async Task SettleAsync(string conversationKey, string responseId, byte[] response, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var b = Base(ConversationKey.TenantOf(conversationKey));
        await Eval(Settle, [b + "w:" + responseId, b + "e:" + responseId], [response]);
    }

    public async Task<ContentMatch?> FindByContentAsync(string tenant, IReadOnlyList<ulong> prefixChains, CancellationToken cancellationToken,
        LastReference? reference = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (prefixChains.Count == 0) return null;
        var b = Base(tenant);
        var args = new RedisValue[prefixChains.Count + 3];
        args[0] = b;
        args[1] = reference?.ItemId ?? "";
        args[2] = reference is { } r ? r.Index + 1 : 0;
        for (var k = prefixChains.Count; k >= 1; k--) args[prefixChains.Count - k + 3] = Hex(prefixChains[k - 1]);
        var result = await Eval(Find, [b + "h:" + (string)args[3]!], args);
        if (result.IsNull) return null;
        var match = (RedisResult[])result!;
        return new ContentMatch((string)match[0]!, (string)match[1]!, (int)match[2]);
    }

    private Task<RedisResult> Eval(LuaScript script, RedisKey[] keys, RedisValue[] args) =>
        redis.GetDatabase().ScriptEvaluateAsync(script.ExecutableScript, keys, args);

    /// <summary>The tenant's key base; the braces make the tenant the Redis Cluster hash tag.</summary>
    private string Base(string tenant) => $"{keyPrefix}{{{tenant}}}:";

    private RedisKey HeadKey(string conversationKey)
    {
        var tenant = ConversationKey.TenantOf(conversationKey);
        var rest = conversationKey.Length > tenant.Length ? conversationKey[(tenant.Length + 1)..] : "";
        return Base(tenant) + "head:" + rest;
    }

    private static string Hex(ulong chain) => chain.ToString("x16", CultureInfo.InvariantCulture);

    private static long Ms(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}
