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

        // One append and one removal: two versions (the refused removal is none).
        Assert.Equal(new ConversationRecord(1_800_000_000, """{"c":"d"}""") { Version = 2 }, await Store.SetMetadataAsync("t1", id, """{"c":"d"}"""));
        Assert.Null(await Store.SetMetadataAsync("t2", id, "{}"));
    }

    [Fact]
    public async Task A_response_becomes_the_head_only_over_the_version_its_turn_started_from_and_is_added_once_even_when_it_is_not_the_head()
    {
        var id = "conv_" + Guid.NewGuid().ToString("N");
        await Store.CreateAsync("t1", id, new ConversationRecord(1, null), [Item("one")]);
        Assert.Null((await Store.LoadAsync("t1", id))!.CurrentHead);

        Assert.True(await Store.AppendAsync("t1", id, [Item("q1"), Item("a1")], new ConversationHeadMove("resp_1", 0)));
        var first = (await Store.LoadAsync("t1", id))!;
        Assert.Equal(("resp_1", 1L), (first.CurrentHead, first.Version));
        Assert.True(await Store.AppendAsync("t1", id, [Item("q1"), Item("a1")], new ConversationHeadMove("resp_1", 0))); // a retried call
        Assert.Equal(3, (await Store.ItemsAsync("t1", id))!.Count);

        // An item added through the API, then a response whose turn started before it: both kept, neither is a head.
        Assert.True(await Store.AppendAsync("t1", id, [Item("x")]));
        Assert.Null((await Store.LoadAsync("t1", id))!.CurrentHead);
        Assert.True(await Store.AppendAsync("t1", id, [Item("q2"), Item("a2")], new ConversationHeadMove("resp_2", 1)));
        var stale = (await Store.LoadAsync("t1", id))!;
        Assert.Equal((null, "resp_1", 3L), (stale.CurrentHead, stale.Head, stale.Version));
        Assert.True(await Store.AppendAsync("t1", id, [Item("q2"), Item("a2")], new ConversationHeadMove("resp_2", 1))); // retried: not the head, still added once
        Assert.Equal(6, (await Store.ItemsAsync("t1", id))!.Count);

        Assert.True(await Store.AppendAsync("t1", id, [Item("q3"), Item("a3")], new ConversationHeadMove("resp_3", 3)));
        Assert.Equal("resp_3", (await Store.LoadAsync("t1", id))!.CurrentHead);
        Assert.True(await Store.AppendAsync("t1", id, [Item("q1"), Item("a1")], new ConversationHeadMove("resp_1", 0))); // a late retry of an older one
        Assert.Equal(("resp_3", 4L), ((await Store.LoadAsync("t1", id))!.CurrentHead, (await Store.LoadAsync("t1", id))!.Version));
        Assert.True(await Store.RemoveItemAsync("t1", id, Item("x")));
        Assert.Null((await Store.LoadAsync("t1", id))!.CurrentHead);
        Assert.Equal(7, (await Store.ItemsAsync("t1", id))!.Count);
    }

    [Fact]
    public async Task A_head_keeps_where_its_turn_started_its_inputs_fingerprint_when_it_was_added_and_how_many_items_it_added()
    {
        var id = "conv_" + Guid.NewGuid().ToString("N");
        await Store.CreateAsync("t1", id, new ConversationRecord(1, null), [Item("one")]);
        Assert.True(await Store.AppendAsync("t1", id, [Item("q1"), Item("a1")], new ConversationHeadMove("resp_1", 0, null, 0xFEDCBA9876543210, 1_700_000_000_123)));
        var first = (await Store.LoadAsync("t1", id))!;
        Assert.Equal(((string?)null, 0xFEDCBA9876543210UL, 1_700_000_000_123L, 2), (first.HeadBase, first.HeadInput, first.HeadAddedAtMs, first.HeadItemCount));

        Assert.True(await Store.AppendAsync("t1", id, [Item("q2"), Item("c2"), Item("a2")], new ConversationHeadMove("resp_2", 1, "resp_1", 7, 1_700_000_001_000)));
        var second = (await Store.LoadAsync("t1", id))!;
        Assert.Equal(("resp_2", "resp_1", 7UL, 1_700_000_001_000L, 3), (second.CurrentHead, second.HeadBase, second.HeadInput, second.HeadAddedAtMs, second.HeadItemCount));
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
