using System.Text;
using CodexLb.Grains.ConversationsApi;
using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.State;

/// <summary>What every conversation store keeps: the object, numbered items in order, removal of one item, and nothing
/// across tenants or after deletion.</summary>
public abstract class ConversationObjectStoreContract
{
    protected abstract IConversationObjectStore Store { get; }

    private static byte[] Item(string text) => Encoding.UTF8.GetBytes($$"""{"id":"msg_{{text}}","type":"message","role":"user","content":"{{text}}"}""");

    private static string[] Texts(List<byte[]>? items) => [.. items!.Select(Encoding.UTF8.GetString)];

    [Fact]
    public async Task A_conversation_keeps_its_record_and_items_in_order_apart_from_other_tenants()
    {
        var id = "conv_" + Guid.NewGuid().ToString("N");
        await Store.CreateAsync("t1", id, new ConversationRecord(1_800_000_000, """{"a":"b"}"""), [Item("one")]);
        Assert.Equal(new ConversationRecord(1_800_000_000, """{"a":"b"}"""), await Store.LoadAsync("t1", id));
        Assert.Null(await Store.LoadAsync("t2", id));
        Assert.Null(await Store.ItemsAsync("t2", id));

        Assert.Equal(1, await Store.ReserveAsync("t1", id, 2)); // one item numbered at creation
        Assert.Equal(3, await Store.ReserveAsync("t1", id, 1));
        Assert.True(await Store.AppendAsync("t1", id, [Item("two"), Item("three")]));
        Assert.Equal(Texts([Item("one"), Item("two"), Item("three")]), Texts(await Store.ItemsAsync("t1", id)));

        Assert.True(await Store.RemoveItemAsync("t1", id, Item("two")));
        Assert.False(await Store.RemoveItemAsync("t1", id, Item("two")));
        Assert.Equal(Texts([Item("one"), Item("three")]), Texts(await Store.ItemsAsync("t1", id)));

        Assert.Equal(new ConversationRecord(1_800_000_000, """{"c":"d"}"""), await Store.SetMetadataAsync("t1", id, """{"c":"d"}"""));
        Assert.Null(await Store.SetMetadataAsync("t2", id, "{}"));
    }

    [Fact]
    public async Task A_deleted_or_unknown_conversation_answers_nothing_and_takes_no_items()
    {
        var id = "conv_" + Guid.NewGuid().ToString("N");
        Assert.False(await Store.DeleteAsync("t1", id));
        Assert.Null(await Store.ReserveAsync("t1", id, 1));
        Assert.False(await Store.AppendAsync("t1", id, [Item("x")]));

        await Store.CreateAsync("t1", id, new ConversationRecord(1, null), []);
        Assert.Equal(new ConversationRecord(1, null), await Store.LoadAsync("t1", id));
        Assert.Empty((await Store.ItemsAsync("t1", id))!);
        Assert.True(await Store.DeleteAsync("t1", id));
        Assert.Null(await Store.LoadAsync("t1", id));
        Assert.False(await Store.AppendAsync("t1", id, [Item("late")]));
        Assert.Null(await Store.ItemsAsync("t1", id));
    }
}

public sealed class MemoryConversationObjectStoreTests : ConversationObjectStoreContract
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    public MemoryConversationObjectStoreTests() =>
        Store = new MemoryConversationObjectStore(Options.Create(new StateOptions { Retention = TimeSpan.FromHours(1) }), _clock);

    protected override IConversationObjectStore Store { get; }

    [Fact]
    public async Task A_conversation_unused_for_the_retention_is_gone_and_use_keeps_it()
    {
        await Store.CreateAsync("t1", "conv_a", new ConversationRecord(1, null), []);
        await Store.CreateAsync("t1", "conv_b", new ConversationRecord(1, null), []);
        _clock.Advance(TimeSpan.FromMinutes(50));
        Assert.NotNull(await Store.LoadAsync("t1", "conv_a"));
        _clock.Advance(TimeSpan.FromMinutes(50));
        Assert.NotNull(await Store.ItemsAsync("t1", "conv_a"));
        Assert.Null(await Store.LoadAsync("t1", "conv_b"));
        Assert.False(await Store.DeleteAsync("t1", "conv_b"));
    }
}

public sealed class RedisConversationObjectStoreTests(RedisServerFixture server) : ConversationObjectStoreContract, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = "test:" + Guid.NewGuid().ToString("N")[..6] + ":";

    protected override IConversationObjectStore Store => new RedisConversationObjectStore(server.Redis, _prefix,
        Options.Create(new StateOptions { Retention = TimeSpan.FromHours(1) }));

    [Fact]
    public async Task Every_key_of_a_conversation_expires_and_use_refreshes_it()
    {
        var id = "conv_" + Guid.NewGuid().ToString("N");
        await Store.CreateAsync("t1", id, new ConversationRecord(1, null), [Encoding.UTF8.GetBytes("""{"type":"message","role":"user","content":"x"}""")]);
        var keys = server.Server.Keys(pattern: _prefix + "*").ToList();
        Assert.Equal(2, keys.Count);
        var db = server.Redis.GetDatabase();
        foreach (var key in keys)
        {
            await db.KeyExpireAsync(key, TimeSpan.FromMinutes(1));
        }
        await Store.LoadAsync("t1", id);
        foreach (var key in keys) Assert.True(await db.KeyTimeToLiveAsync(key) > TimeSpan.FromMinutes(59), $"{key} was not refreshed");
    }
}
