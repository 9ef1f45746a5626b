using System.Diagnostics;
using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The behaviour every <see cref="IResponseTreeStore"/> must have, run against the memory store (fake time) and the
/// Redis store (a real redis-server, real time). Expiry checks stay <see cref="Margin"/> away from every boundary, so real
/// waits that overshoot do not make them flaky.
/// </summary>
public abstract class ResponseTreeStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract IResponseTreeStore Store { get; }

    protected abstract StateOptions Settings { get; }

    /// <summary>Lets time pass: advanced for the memory store, waited for Redis.</summary>
    protected abstract Task PassAsync(TimeSpan span);

    /// <summary>How far from an expiry boundary every check stays.</summary>
    protected abstract TimeSpan Margin { get; }

    protected TimeSpan R => Settings.Retention;

    protected TimeSpan S => TimeSpan.FromTicks(Math.Min(TimeSpan.FromDays(1).Ticks, R.Ticks / 10));

    protected TimeSpan M => Settings.ExpiredMemory;

    // Fresh tenants per test: the Redis tests share one server.
    protected string TenantA { get; } = "ta" + Guid.NewGuid().ToString("N")[..12];

    protected string TenantB { get; } = "tb" + Guid.NewGuid().ToString("N")[..12];

    protected string Conv(string id, string? tenant = null) => ConversationKey.Create(tenant ?? TenantA, "thread", id);

    protected static ulong Chain() => (ulong)Random.Shared.NextInt64() ^ ((ulong)Random.Shared.Next() << 63);

    protected static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    protected static ResponseNode Node(string id, string? parent, string conversationKey, params byte[][] items) =>
        new(id, parent, conversationKey, items.Length, Chain(), items);

    /// <summary>Claims the conversation and appends the nodes in order under that epoch.</summary>
    protected async Task<long> WriteAsync(string conversationKey, params ResponseNode[] nodes)
    {
        var head = await Store.ClaimAsync(conversationKey, None);
        foreach (var node in nodes) Assert.True(await Store.AppendAsync(head.Epoch, node, None), $"append {node.Id}");
        return head.Epoch;
    }

    protected Task<NodePath> Load(string id, string? tenant = null) => Store.LoadPathAsync(tenant ?? TenantA, id, None);

    protected Task<ResponseLocation> Locate(string id, string? tenant = null) => Store.LocateAsync(tenant ?? TenantA, id, None);

    protected static void AssertPath(IReadOnlyList<ResponseNode> expected, NodePath actual)
    {
        Assert.Equal(ResponseStatus.Found, actual.Status);
        Assert.Equal(expected.Select(n => n.Id), actual.Nodes.Select(n => n.Id));
        foreach (var (want, got) in expected.Zip(actual.Nodes)) AssertSameInPath(want, got);
    }

    /// <summary>What a path's node must keep: its place, its context's chain and count, and its items byte for byte.</summary>
    internal static void AssertSameInPath(ResponseNode want, ResponseNode got)
    {
        Assert.Equal(want.ParentId, got.ParentId);
        Assert.Equal(want.ConversationKey, got.ConversationKey);
        Assert.Equal(want.ItemCount, got.ItemCount);
        Assert.Equal(want.Chain, got.Chain);
        Assert.Equal(want.Synthetic, got.Synthetic);
        Assert.Equal(want.Added.Count, got.Added.Count);
        foreach (var (a, b) in want.Added.Zip(got.Added)) Assert.Equal(a, b);
    }

    [Fact]
    public async Task Append_then_LoadPath_returns_the_path_newest_first_with_exact_item_bytes()
    {
        var conv = Conv("c1");
        byte[] invalidUtf8 = [0xFF, 0xFE, 0x00, 0xC3, 0x28, (byte)'\n', 0x80, 0xED, 0xA0, 0x80, 0x00];
        var big = new byte[200_000];
        Random.Shared.NextBytes(big);
        var root = new ResponseNode("resp_root", null, conv, 2, Chain(), [Text("""{"type":"message","content":"é"}"""), invalidUtf8]);
        var mid = new ResponseNode("resp_mid", "resp_root", conv, 2, Chain(), []);
        var leaf = new ResponseNode("resp_leaf", "resp_mid", conv, 5, Chain(), [[], big, Text("\r\n\"x\"\n")]);
        await WriteAsync(conv, root, mid, leaf);

        AssertPath([leaf, mid, root], await Load("resp_leaf"));
        AssertPath([mid, root], await Load("resp_mid"));
        AssertPath([root], await Load("resp_root"));
        var head = await Store.ClaimAsync(conv, None);
        Assert.Equal(("resp_leaf", 3), (head.ResponseId, head.Turns));
    }

    [Fact]
    public async Task LoadResponse_returns_the_envelope_and_the_outputs_pending_ones_by_conversation_and_others_as_gone()
    {
        var conv = Conv("retrieve");
        var envelope = Text("""{"id":"resp_env","output":[],"status":"completed"}""");
        var stored = new ResponseNode("resp_env", null, conv, 3, Chain(), [Text("in"), Text("out1"), Text("out2")], Response: envelope, OutputCount: 2);
        var bare = Node("resp_bare", "resp_env", conv, Text("no envelope"));
        await WriteAsync(conv, stored, bare);

        var found = await Store.LoadResponseAsync(TenantA, "resp_env", None);
        Assert.Equal((ResponseStatus.Found, conv, false), (found.Status, found.ConversationKey, found.Pending));
        Assert.Equal(envelope, found.Envelope);
        Assert.Equal(["out1", "out2"], found.Outputs.Select(Encoding.UTF8.GetString));

        var withoutEnvelope = await Store.LoadResponseAsync(TenantA, "resp_bare", None);
        Assert.Equal(ResponseStatus.Found, withoutEnvelope.Status);
        Assert.Null(withoutEnvelope.Envelope);

        await Store.MarkPendingAsync(conv, "resp_running", None);
        var pending = await Store.LoadResponseAsync(TenantA, "resp_running", None);
        Assert.Equal((ResponseStatus.Found, conv, true), (pending.Status, pending.ConversationKey, pending.Pending));

        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantA, "resp_never", None)).Status);
        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantB, "resp_env", None)).Status);
    }

    [Fact]
    public async Task A_deleted_response_is_unknown_everywhere_and_its_descendants_can_no_longer_be_rebuilt()
    {
        var conv = Conv("delete");
        var root = Node("del_root", null, conv, Text("root"));
        var child = Node("del_child", "del_root", conv, Text("child"));
        await WriteAsync(conv, root, child);

        Assert.False(await Store.DeleteAsync(TenantB, "del_root", None)); // another tenant cannot
        Assert.True(await Store.DeleteAsync(TenantA, "del_root", None));
        Assert.False(await Store.DeleteAsync(TenantA, "del_root", None));

        Assert.Equal(ResponseStatus.Unknown, (await Load("del_root")).Status);
        Assert.Equal(ResponseLocation.Unknown, await Locate("del_root"));
        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantA, "del_root", None)).Status);
        Assert.Equal(ResponseStatus.Expired, (await Load("del_child")).Status);
        Assert.Null(await Store.FindByContentAsync(TenantA, [root.Chain], None));
    }

    [Fact]
    public async Task Forks_both_load_and_neither_invalidates_the_other()
    {
        var (convA, convB) = (Conv("a"), Conv("b"));
        var root = Node("r", null, convA, Text("root"));
        var a1 = Node("a1", "r", convA, Text("a1"));
        var a2 = Node("a2", "r", convB, Text("a2"));
        var b = Node("b", "a1", convA, Text("b"));
        await WriteAsync(convA, root, a1);
        await WriteAsync(convB, a2);
        await WriteAsync(convA, b);

        AssertPath([a2, root], await Load("a2"));
        AssertPath([b, a1, root], await Load("b"));
        AssertPath([a1, root], await Load("a1"));
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, convB), await Locate("a2"));
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, convA), await Locate("b"));
    }

    [Fact]
    public async Task A_stale_epoch_writes_nothing_while_the_newer_epoch_succeeds()
    {
        var conv = Conv("fenced");
        var first = await Store.ClaimAsync(conv, None);
        Assert.Null(first.ResponseId);
        Assert.Equal(0, first.Turns);
        var second = await Store.ClaimAsync(conv, None);
        Assert.True(second.Epoch > first.Epoch);

        var lost = Node("lost", null, conv, Text("x"));
        Assert.False(await Store.AppendAsync(first.Epoch, lost, None));
        Assert.Equal(ResponseLocation.Unknown, await Locate("lost"));
        Assert.Equal(ResponseStatus.Unknown, (await Load("lost")).Status);
        Assert.Null(await Store.FindByContentAsync(TenantA, [lost.Chain], None));

        var won = Node("won", null, conv, Text("y"));
        Assert.True(await Store.AppendAsync(second.Epoch, won, None));
        Assert.False(await Store.AppendAsync(first.Epoch, Node("late", "won", conv, Text("z")), None));
        Assert.False(await Store.AppendAsync(first.Epoch, Node("won", null, conv, Text("z")), None));
        Assert.False(await Store.AppendAsync(7, Node("never", null, Conv("unclaimed"), Text("z")), None));

        var third = await Store.ClaimAsync(conv, None);
        Assert.Equal((second.Epoch + 1, "won", 1), (third.Epoch, third.ResponseId, third.Turns));
        Assert.Equal(ResponseLocation.Unknown, await Locate("late"));
        Assert.Equal(ResponseLocation.Unknown, await Locate("never"));
    }

    [Fact]
    public async Task Nodes_are_immutable_but_a_repeated_append_still_moves_the_head()
    {
        var conv = Conv("immutable");
        var original = Node("n", null, conv, Text("original"));
        var epoch = await WriteAsync(conv, original);
        Assert.True(await Store.AppendAsync(epoch, original with { Added = [Text("changed")], ItemCount = 9, Chain = Chain() }, None));

        AssertPath([original], await Load("n"));
        Assert.Equal(2, (await Store.ClaimAsync(conv, None)).Turns);
    }

    [Fact]
    public async Task Tenants_are_isolated()
    {
        var node = Node("shared-id", null, Conv("c"), Text("tenant a"));
        await WriteAsync(Conv("c"), node);

        Assert.Equal(ResponseLocation.Unknown, await Locate("shared-id", TenantB));
        Assert.Equal(ResponseStatus.Unknown, (await Load("shared-id", TenantB)).Status);
        Assert.Null(await Store.FindByContentAsync(TenantB, [node.Chain], None));

        // The same id in the other tenant is another node.
        var other = Node("shared-id", null, Conv("c", TenantB), Text("tenant b"));
        await WriteAsync(Conv("c", TenantB), other);
        AssertPath([node], await Load("shared-id"));
        AssertPath([other], await Load("shared-id", TenantB));
        Assert.Equal(1, (await Store.ClaimAsync(Conv("c"), None)).Turns);
    }

    [Fact]
    public async Task FindByContent_picks_the_longest_match_and_ignores_synthetic_nodes()
    {
        ulong[] chains = [Chain(), Chain(), Chain(), Chain(), Chain(), Chain()];
        var one = Node("k1", null, Conv("one"), Text("1")) with { Chain = chains[0] };
        var three = Node("k3", null, Conv("three"), Text("3")) with { Chain = chains[2] };
        var synthetic = Node("k5", "k3", Conv("three"), Text("5")) with { Chain = chains[4], Synthetic = true };
        await WriteAsync(Conv("one"), one);
        await WriteAsync(Conv("three"), three, synthetic);

        Assert.Equal(new ContentMatch("k3", Conv("three"), 3), await Store.FindByContentAsync(TenantA, chains, None));
        Assert.Equal(new ContentMatch("k1", Conv("one"), 1), await Store.FindByContentAsync(TenantA, chains[..2], None));
        Assert.Null(await Store.FindByContentAsync(TenantA, [Chain(), Chain(), Chain(), Chain(), chains[4]], None));
        Assert.Null(await Store.FindByContentAsync(TenantA, [], None));

        // Synthetic nodes are not indexed, but are stored, locatable and loadable.
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, Conv("three")), await Locate("k5"));
        AssertPath([synthetic, three], await Load("k5"));
    }

    [Fact]
    public async Task FindByContent_finds_the_node_that_output_a_referenced_item_when_no_chain_reaches_the_reference()
    {
        ulong[] chains = [Chain(), Chain(), Chain(), Chain()];
        var stored = Node("ref1", null, Conv("ref"), Text("u"), Text("r"), Text("m")) with { Chain = chains[0], OutputIds = ["rs_1", "msg_1"] };
        await WriteAsync(Conv("ref"), stored);

        // Input [user, ref rs_1, ref msg_1, user]: only the first prefix's chain is known, and it does not reach the reference.
        Assert.Equal(new ContentMatch("ref1", Conv("ref"), 0), await Store.FindByContentAsync(TenantA, chains, None, new LastReference(2, "msg_1")));
        Assert.Equal(new ContentMatch("ref1", Conv("ref"), 0), await Store.FindByContentAsync(TenantA, chains, None, new LastReference(1, "rs_1")));
        // A chain that reaches past the reference is the exact answer; one that stops short of an unknown one still counts.
        Assert.Equal(new ContentMatch("ref1", Conv("ref"), 1), await Store.FindByContentAsync(TenantA, chains, None, new LastReference(0, "msg_1")));
        Assert.Equal(new ContentMatch("ref1", Conv("ref"), 1), await Store.FindByContentAsync(TenantA, chains, None, new LastReference(2, "msg_other")));
        Assert.Null(await Store.FindByContentAsync(TenantA, [Chain(), Chain(), Chain()], None, new LastReference(2, "msg_other")));
        // Strictly per tenant.
        Assert.Null(await Store.FindByContentAsync(TenantB, [Chain(), Chain(), Chain()], None, new LastReference(2, "msg_1")));
    }

    [Fact]
    public async Task FindByContent_handles_5000_prefixes()
    {
        var chains = Enumerable.Range(0, 5000).Select(_ => Chain()).ToArray();
        var deep = Node("deep", null, Conv("deep"), Text("d")) with { Chain = chains[3999] };
        var shallow = Node("shallow", null, Conv("shallow"), Text("s")) with { Chain = chains[0] };
        await WriteAsync(Conv("deep"), deep);
        await WriteAsync(Conv("shallow"), shallow);

        var watch = Stopwatch.StartNew();
        Assert.Equal(new ContentMatch("deep", Conv("deep"), 4000), await Store.FindByContentAsync(TenantA, chains, None));
        chains[3999] = Chain();
        Assert.Equal(new ContentMatch("shallow", Conv("shallow"), 1), await Store.FindByContentAsync(TenantA, chains, None));
        chains[0] = Chain();
        Assert.Null(await Store.FindByContentAsync(TenantA, chains, None));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"three 5000-prefix lookups took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_node_whose_parent_is_missing_is_stored_but_its_path_is_expired()
    {
        var orphan = Node("orphan", "never-written", Conv("o"), Text("o"));
        await WriteAsync(Conv("o"), orphan);

        Assert.Equal(new ResponseLocation(ResponseStatus.Found, Conv("o")), await Locate("orphan"));
        Assert.Equal(ResponseStatus.Expired, (await Load("orphan")).Status);
        Assert.Equal(ResponseStatus.Unknown, (await Load("never-written")).Status);
    }

    [Fact]
    public async Task A_conversation_exists_from_its_claim_until_its_head_expires_and_no_lookup_creates_it()
    {
        var conv = Conv("exists");
        Assert.False(await Store.HasConversationAsync(conv, None));
        Assert.False(await Store.HasConversationAsync(conv, None)); // asking creates nothing
        await Store.ClaimAsync(conv, None); // an activation, before any turn completed
        Assert.True(await Store.HasConversationAsync(conv, None));
        Assert.False(await Store.HasConversationAsync(Conv("exists", TenantB), None));

        await PassAsync(R - Margin);
        Assert.True(await Store.HasConversationAsync(conv, None));
        await PassAsync(S + 2 * Margin); // R+s+margin since the claim
        Assert.False(await Store.HasConversationAsync(conv, None));
    }

    [Fact]
    public async Task An_unused_node_is_found_then_expired_then_unknown()
    {
        var node = Node("aging", null, Conv("aging"), Text("a"));
        await WriteAsync(Conv("aging"), node);
        Assert.Equal(ResponseLocation.Unknown, await Locate("not-issued"));

        await PassAsync(R - Margin);
        Assert.Equal(ResponseStatus.Found, (await Locate("aging")).Status);

        await PassAsync(S + 2 * Margin); // R+s+margin since the write
        Assert.Equal(ResponseLocation.Expired, await Locate("aging"));
        Assert.Equal(ResponseStatus.Expired, (await Load("aging")).Status);
        Assert.Null(await Store.FindByContentAsync(TenantA, [node.Chain], None));

        await PassAsync(M); // R+s+M+margin
        Assert.Equal(ResponseLocation.Unknown, await Locate("aging"));
        Assert.Equal(ResponseStatus.Unknown, (await Load("aging")).Status);
    }

    [Fact]
    public async Task Loading_a_node_keeps_its_whole_path_alive_but_not_its_siblings()
    {
        var conv = Conv("used");
        var root = Node("root", null, conv, Text("r"));
        var a = Node("a", "root", conv, Text("a"));
        var b = Node("b", "a", conv, Text("b"));
        var sibling = Node("sibling", "root", conv, Text("s"));
        await WriteAsync(conv, root, a, b, sibling);

        await PassAsync(R - Margin);
        AssertPath([b, a, root], await Load("b"));

        await PassAsync(R - Margin); // the first writes are now more than R+s old
        AssertPath([b, a, root], await Load("b"));
        Assert.Equal(ResponseStatus.Found, (await Locate("root")).Status);
        Assert.Equal(new ContentMatch("root", conv, 1), await Store.FindByContentAsync(TenantA, [root.Chain], None));
        Assert.NotEqual(ResponseStatus.Found, (await Locate("sibling")).Status);
    }

    [Fact]
    public async Task Appending_keeps_the_head_of_a_long_lived_activation_alive()
    {
        var conv = Conv("busy");
        var epoch = await WriteAsync(conv, Node("t0", null, conv, Text("0")));
        for (var i = 1; i <= 2; i++)
        {
            await PassAsync(R - Margin); // past R+s since the claim on the second round
            Assert.True(await Store.AppendAsync(epoch, Node($"t{i}", $"t{i - 1}", conv, Text($"{i}")), None), $"append {i}");
        }

        var head = await Store.ClaimAsync(conv, None);
        Assert.Equal((epoch + 1, "t2", 3), (head.Epoch, head.ResponseId, head.Turns));
    }

    [Fact]
    public async Task Appending_to_an_old_path_keeps_every_ancestor_alive()
    {
        var conv = Conv("long");
        var path = new List<ResponseNode> { Node("n0", null, conv, Text("0")) };
        for (var i = 1; i <= 20; i++) path.Add(Node($"n{i}", $"n{i - 1}", conv, Text($"{i}")));
        await WriteAsync(conv, [.. path]);

        // The parent's path was refreshed long ago: this append must refresh it; the next inherits the refresh.
        await PassAsync(R - Margin);
        var x = Node("x", "n20", conv, Text("x"));
        var y = Node("y", "x", conv, Text("y"));
        await WriteAsync(conv, x, y);

        await PassAsync(R - Margin); // n0..n20 were written more than R+s ago
        path.Reverse();
        AssertPath([y, x, .. path], await Load("y"));
    }

    [Fact]
    public async Task A_started_response_is_located_before_it_completes()
    {
        var conversation = Conv("pending");
        await Store.MarkPendingAsync(conversation, "resp_pending", None);
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, conversation), await Locate("resp_pending"));
        Assert.Equal(ResponseStatus.Unknown, (await Locate("resp_pending", TenantB)).Status);
        // It routes, but it is no node until it completes: its context cannot be loaded yet, and it says it is pending
        // (started, not completed: a client chaining on it gets a retryable error, not "not found").
        Assert.Equal(ResponseStatus.Pending, (await Load("resp_pending")).Status);
        Assert.Equal(ResponseStatus.Unknown, (await Load("resp_pending", TenantB)).Status);
        await WriteAsync(conversation, Node("resp_pending", null, conversation, Text("q"), Text("a")));
        Assert.Equal(ResponseStatus.Found, (await Load("resp_pending")).Status);
    }

    [Fact]
    public async Task A_started_response_that_ended_without_completing_reads_back_as_it_ended_and_still_cannot_be_continued()
    {
        var conversation = Conv("settled");
        var cancelled = Encoding.UTF8.GetBytes("""{"id":"resp_settled","status":"cancelled","output":[]}""");
        await Store.SettleAsync(conversation, "resp_settled", cancelled, None); // no pending marker: nothing is kept
        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantA, "resp_settled", None)).Status);

        await Store.MarkPendingAsync(conversation, "resp_settled", None);
        await Store.SettleAsync(conversation, "resp_settled", cancelled, None);
        var settled = await Store.LoadResponseAsync(TenantA, "resp_settled", None);
        Assert.Equal((ResponseStatus.Found, conversation, false), (settled.Status, settled.ConversationKey, settled.Pending));
        Assert.Equal(cancelled, settled.Envelope);
        Assert.Empty(settled.Outputs);
        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantB, "resp_settled", None)).Status);
        // Over, but never completed: a client chaining on it is still told it did not complete.
        Assert.Equal(ResponseStatus.Pending, (await Load("resp_settled")).Status);
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, conversation), await Locate("resp_settled"));
    }

    [Fact]
    public async Task A_background_response_keeps_what_runs_it_again_only_while_it_is_pending()
    {
        var conversation = Conv("resumable");
        var pending = TimeSpan.FromTicks(Math.Min(Settings.PendingLifetime.Ticks, (R + S).Ticks));
        var saved = Text("the request, serialized");
        await Store.MarkResumableAsync(conversation, "resp_bg", saved, None);
        Assert.Equal(saved, await Store.LoadResumableAsync(TenantA, "resp_bg", None));
        Assert.Null(await Store.LoadResumableAsync(TenantB, "resp_bg", None));
        Assert.Equal(ResponseStatus.Pending, (await Load("resp_bg")).Status); // routes as any started response does
        Assert.Equal(new ResponseLocation(ResponseStatus.Found, conversation), await Locate("resp_bg"));

        // Refreshed while it runs, it outlives its first lifetime, what runs it again included.
        await PassAsync(pending * 0.6);
        await Store.RefreshPendingAsync(conversation, "resp_bg", None);
        await PassAsync(pending * 0.6);
        Assert.Equal(saved, await Store.LoadResumableAsync(TenantA, "resp_bg", None));
        Assert.True((await Store.LoadResponseAsync(TenantA, "resp_bg", None)).Pending);

        // Completed, it is a node: nothing runs it again.
        await WriteAsync(conversation, Node("resp_bg", null, conversation, Text("q"), Text("a")));
        Assert.Null(await Store.LoadResumableAsync(TenantA, "resp_bg", None));

        // A foreground response keeps nothing to run it again; a settled one is over.
        await Store.MarkPendingAsync(conversation, "resp_fg", None);
        Assert.Null(await Store.LoadResumableAsync(TenantA, "resp_fg", None));
        await Store.MarkResumableAsync(conversation, "resp_settled_bg", saved, None);
        await Store.SettleAsync(conversation, "resp_settled_bg", Text("""{"id":"resp_settled_bg","status":"cancelled"}"""), None);
        Assert.Null(await Store.LoadResumableAsync(TenantA, "resp_settled_bg", None));

        // Not refreshed (its owner is gone and nobody asked for it), it lapses with its marker.
        await Store.MarkResumableAsync(conversation, "resp_lapsed", saved, None);
        await PassAsync(pending + Margin);
        Assert.Null(await Store.LoadResumableAsync(TenantA, "resp_lapsed", None));
        Assert.Equal(ResponseStatus.Unknown, (await Store.LoadResponseAsync(TenantA, "resp_lapsed", None)).Status);
    }

    [Fact]
    public async Task Epochs_keep_rising_after_an_idle_head_expired()
    {
        var conversation = Conv("epochs");
        var first = await Store.ClaimAsync(conversation, None);
        var second = await Store.ClaimAsync(conversation, None);
        Assert.True(second.Epoch > first.Epoch);
        await PassAsync(R + S + Margin);
        var afterExpiry = await Store.ClaimAsync(conversation, None);
        Assert.True(afterExpiry.Epoch > second.Epoch, $"epoch {afterExpiry.Epoch} after expiry, {second.Epoch} before");
        Assert.Null(afterExpiry.ResponseId);
    }
}
