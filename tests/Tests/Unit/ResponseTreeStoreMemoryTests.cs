using System.Diagnostics;
using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Unit;

/// <summary>The memory store, on fake time: boundaries are exact, so the margins are small.</summary>
public sealed class ResponseTreeStoreMemoryTests : ResponseTreeStoreContractTests, IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly MemoryResponseTreeStore _store;

    public ResponseTreeStoreMemoryTests() => _store = new MemoryResponseTreeStore(Options.Create(Settings), _time);

    protected override IResponseTreeStore Store => _store;

    protected override StateOptions Settings { get; } = new() { Retention = TimeSpan.FromDays(30), ExpiredMemory = TimeSpan.FromDays(20) };

    protected override TimeSpan Margin => TimeSpan.FromHours(1);

    protected override Task PassAsync(TimeSpan span)
    {
        _time.Advance(span);
        return Task.CompletedTask;
    }

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task A_disposed_store_has_freed_its_tree_and_refuses_every_use()
    {
        var conv = Conv("disposed");
        await WriteAsync(conv, Node("before", null, conv, Text("b")));

        _store.Dispose();
        _store.Dispose();

        Assert.Equal(0, _store.EntryCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Locate("before"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Store.AppendAsync(1, Node("after", "before", conv, Text("a")), default));
    }

    [Fact]
    public async Task Expiry_is_exact_at_R_plus_slack_and_the_tombstone_at_R_plus_slack_plus_M()
    {
        await WriteAsync(Conv("exact"), Node("exact", null, Conv("exact"), Text("e")));
        await PassAsync(R + S - TimeSpan.FromTicks(1));
        Assert.Equal(ResponseStatus.Found, (await Locate("exact")).Status);
        await PassAsync(TimeSpan.FromTicks(1));
        Assert.Equal(ResponseLocation.Expired, await Locate("exact"));
        await PassAsync(M - TimeSpan.FromTicks(1));
        Assert.Equal(ResponseLocation.Expired, await Locate("exact"));
        await PassAsync(TimeSpan.FromTicks(1));
        Assert.Equal(ResponseLocation.Unknown, await Locate("exact"));
    }

    [Fact]
    public async Task A_child_appended_within_the_slack_does_not_refresh_the_root_and_expires_with_it()
    {
        var conv = Conv("slack");
        await WriteAsync(conv, Node("root", null, conv, Text("r")));
        await PassAsync(S / 2);
        await WriteAsync(conv, Node("child", "root", conv, Text("c")));

        // Past the root's expiry, before the child's: the child is still there, but its context cannot be rebuilt.
        await PassAsync(R + S / 2 + S / 4);
        Assert.Equal(ResponseLocation.Expired, await Locate("root"));
        Assert.Equal(ResponseStatus.Found, (await Locate("child")).Status);
        Assert.Equal(ResponseStatus.Expired, (await Load("child")).Status);
    }

    [Fact]
    public async Task A_load_within_the_slack_refreshes_nothing_yet_the_path_outlives_that_use_by_R()
    {
        var conv = Conv("load-slack");
        await WriteAsync(conv, Node("root", null, conv, Text("r")), Node("leaf", "root", conv, Text("l")));
        await PassAsync(S / 2);
        Assert.Equal(ResponseStatus.Found, (await Load("leaf")).Status); // within the slack of the write: nothing refreshed

        // Unrefreshed, the root expires R+s after its write, which is still more than R after the load.
        await PassAsync(R + S / 2 - TimeSpan.FromTicks(1));
        Assert.Equal(ResponseStatus.Found, (await Locate("root")).Status);
        await PassAsync(TimeSpan.FromTicks(1));
        Assert.Equal(ResponseLocation.Expired, await Locate("root"));
    }

    [Fact]
    public async Task A_load_past_the_slack_refreshes_the_whole_path()
    {
        var conv = Conv("load-refresh");
        await WriteAsync(conv, Node("root", null, conv, Text("r")), Node("leaf", "root", conv, Text("l")));
        await PassAsync(S + TimeSpan.FromTicks(1));
        Assert.Equal(ResponseStatus.Found, (await Load("leaf")).Status);
        await PassAsync(R);
        Assert.Equal(ResponseStatus.Found, (await Load("leaf")).Status);
    }

    [Fact]
    public async Task Expired_entries_are_swept_so_memory_is_bounded_by_retention()
    {
        for (var c = 0; c < 10; c++)
        {
            var conv = Conv($"c{c}");
            var nodes = Enumerable.Range(0, 10).Select(i => Node($"c{c}n{i}", i == 0 ? null : $"c{c}n{i - 1}", conv, Text("x"))).ToArray();
            await WriteAsync(conv, nodes);
        }

        Assert.Equal(100 + 100 + 10, _store.EntryCount); // nodes, index entries, heads: a tombstone is written only at expiry
        await PassAsync(R + S + TimeSpan.FromSeconds(1));
        await Locate("nothing"); // any call sweeps once a slack has passed
        Assert.Equal(100, _store.EntryCount); // the tombstones the expired nodes left
        await PassAsync(M);
        await Locate("nothing");
        Assert.Equal(0, _store.EntryCount);
    }

    [Fact]
    public async Task The_store_keeps_a_copy_of_a_node_and_none_of_the_callers_objects()
    {
        var conv = Conv("copied");
        var item = Text("original");
        var envelope = Text("""{"id":"copied"}""");
        var outputIds = new List<string> { "msg_copied" };
        var node = new ResponseNode("copied", null, conv, 1, Chain(), [item], Response: envelope, OutputCount: 1, OutputIds: outputIds);
        await WriteAsync(conv, node);

        // The caller reuses its buffers and lists (a pooled item, a list it keeps filling): the stored node must not change.
        item[0] = (byte)'X';
        envelope[0] = (byte)'X';
        outputIds[0] = "msg_other";

        var loaded = await Load("copied");
        Assert.Equal("original", Encoding.UTF8.GetString(loaded.Nodes[0].Added[0]));
        Assert.NotSame(node, loaded.Nodes[0]);
        var response = await Store.LoadResponseAsync(TenantA, "copied", CancellationToken.None);
        Assert.Equal("""{"id":"copied"}""", Encoding.UTF8.GetString(response.Envelope!));
        Assert.Equal(["original"], response.Outputs.Select(Encoding.UTF8.GetString));
        Assert.Equal(["msg_copied"], loaded.Nodes[0].OutputIds!);
        Assert.Equal(new ContentMatch("copied", conv, 0), await Store.FindByContentAsync(TenantA, [Chain()], CancellationToken.None, new LastReference(0, "msg_copied")));
    }

    [Fact]
    public async Task An_output_item_entry_is_swept_with_its_node()
    {
        var conv = Conv("items");
        await WriteAsync(conv, Node("items", null, conv, Text("q"), Text("a")) with { OutputCount = 1, OutputIds = ["", "msg_items"] });
        Assert.Equal(1 + 1 + 1 + 1, _store.EntryCount); // node, index entry, one item entry ("" names none), head

        await PassAsync(R + S + TimeSpan.FromSeconds(1));
        Assert.Null(await Store.FindByContentAsync(TenantA, [Chain()], CancellationToken.None, new LastReference(0, "msg_items")));
        Assert.Equal(1, _store.EntryCount); // the tombstone
    }

    [Fact]
    public async Task Concurrent_callers_see_a_consistent_tree()
    {
        await Parallel.ForAsync(0, 64, async (c, _) =>
        {
            var conv = Conv($"p{c}");
            var nodes = Enumerable.Range(0, 20).Select(i => Node($"p{c}n{i}", i == 0 ? null : $"p{c}n{i - 1}", conv, Text($"{c}/{i}"))).ToArray();
            await WriteAsync(conv, nodes);
            for (var i = 0; i < 20; i++) Assert.Equal(i + 1, (await Load($"p{c}n{i}")).Nodes.Count);
        });

        for (var c = 0; c < 64; c++) Assert.Equal(20, (await Store.ClaimAsync(Conv($"p{c}"), CancellationToken.None)).Turns);
    }
}
