using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Conversation;
using CodexLb.Grains.Tree;
using CodexLb.Protocol.Items;
using Microsoft.Extensions.Options;

namespace CodexLb.Tests.Unit;

/// <summary>A grain's view of the tree continues any response the store holds, however deep its conversation is.</summary>
public sealed class ConversationTreeTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(1_500)] // far deeper than the tree's node cache: a long Codex session's turns, one per tool call
    public async Task A_fresh_tree_continues_the_newest_response_of_a_conversation_of_any_depth(int depth)
    {
        var store = new MemoryResponseTreeStore(Options.Create(new StateOptions()), TimeProvider.System);
        var key = ConversationKey.Create("tree-tests", "thread", Guid.NewGuid().ToString("N"));
        var head = await store.ClaimAsync(key, CancellationToken.None);
        for (var i = 0; i < depth; i++)
        {
            var node = new ResponseNode($"resp_{i}", i == 0 ? null : $"resp_{i - 1}", key, i + 1, (ulong)i + 1, [Item(i)]);
            Assert.True(await store.AppendAsync(head.Epoch, node, CancellationToken.None));
        }

        // A reactivated grain (or one that released its cache while idle) starts with nothing cached.
        var tree = new ConversationTree(store, key);
        var next = Item(depth);
        var (plan, missing) = await tree.PlanAsync(new TurnRequest
        {
            PreviousResponseId = $"resp_{depth - 1}", Settings = [], InputItems = [next], InputFingerprints = [ItemFingerprint.Compute(next)],
        }, CancellationToken.None);

        Assert.True(plan is not null, $"the newest response of a {depth}-deep conversation was answered {missing}");
        Assert.Equal(depth, plan.BaseCount);
        Assert.Equal(Item(0), plan.Items[0]);
        Assert.Equal(Item(depth - 1), plan.Items[depth - 1]);
    }

    /// <summary>
    /// An SDK that stores its responses echoes earlier outputs as item_references: each must match the item it names, and
    /// only that one. Two answers to the same first message (a fork) differ only in the answer a later request references.
    /// </summary>
    [Fact]
    public async Task An_item_reference_matches_the_item_it_names_and_no_other()
    {
        var (store, key, epoch, tree) = await NewConversationAsync("req");
        var user = Json("""{"role":"user","content":"THINK_FIRST hi"}""");
        await CompleteAsync(tree, store, epoch, key, [user], "resp_1", Reasoning("rs_1"), Answer("msg_1", "one"));
        await CompleteAsync(tree, store, epoch, key, [user], "resp_2", Reasoning("rs_2"), Answer("msg_2", "two"));

        var next = Json("""{"role":"user","content":"and then?"}""");
        foreach (var (reasoning, answer, expected) in new[] { ("rs_1", "msg_1", "resp_1"), ("rs_2", "msg_2", "resp_2"), ("rs_1", "msg_2", "resp_2") })
        {
            var plan = await PlanAsync(tree, [user, Reference(reasoning), Reference(answer), next]);
            Assert.Equal(expected, plan.Base.ResponseId);
            Assert.Equal(3, plan.BaseCount);
            Assert.Equal([next], plan.NewItems);
        }

        // A reference to an item this tenant never saw matches no response (it used to hash like every other reference).
        var unknown = await PlanAsync(tree, [user, Reference("rs_1"), Reference("msg_never"), next]);
        Assert.Null(unknown.Base.ResponseId);

        // ... nor does a response whose context holds another unknown reference: it matches only the same reference.
        await CompleteAsync(tree, store, epoch, key, [user, Reference("msg_foreign_a"), next], "resp_3", Answer("msg_3", "three"));
        var then = Json("""{"role":"user","content":"more"}""");
        Assert.Null((await PlanAsync(tree, [user, Reference("msg_foreign_b"), next, Answer("msg_3", "three"), then])).Base.ResponseId);
        Assert.Equal("resp_3", (await PlanAsync(tree, [user, Reference("msg_foreign_a"), next, Answer("msg_3", "three"), then])).Base.ResponseId);

        // A fresh tree (another activation) learns the referenced items from the response the gateway found by item id.
        var fresh = new ConversationTree(store, key);
        var resumed = await PlanAsync(fresh, [user, Reference("rs_2"), Reference("msg_2"), next], resumeFrom: "resp_2");
        Assert.Equal("resp_2", resumed.Base.ResponseId);
        Assert.Equal([next], resumed.NewItems);
    }

    /// <summary>
    /// A live conversation keeps no items between turns (the store does): the next turn plans on its anchor without them,
    /// and a full send reads back exactly the anchor's context, once.
    /// </summary>
    [Fact]
    public async Task A_committed_turn_leaves_no_items_in_the_tree_and_a_full_send_reads_the_exact_context_back()
    {
        var (store, key, epoch, tree) = await NewConversationAsync("thread");
        await CompleteAsync(tree, store, epoch, key, [Item(0)], "resp_1", Answer("msg_1", "one"));
        var second = await AnchoredPlanAsync(tree, "resp_1", Item(1));
        await CommitAsync(tree, store, epoch, key, second, "resp_2", Answer("msg_2", "two"));

        var third = await AnchoredPlanAsync(tree, "resp_2", Item(2));
        Assert.False(third.Base.HasItems);
        Assert.Equal(("resp_2", 4), (third.Base.ResponseId, third.BaseCount));
        Assert.Equal(third.Base.Bytes + Item(2).Length, third.Bytes);

        var (loaded, missing) = await tree.WithBaseItemsAsync(third, CancellationToken.None);
        Assert.True(loaded is not null, $"the base read back as {missing}");
        Assert.Equal([Item(0), Answer("msg_1", "one"), Item(1), Answer("msg_2", "two"), Item(2)], loaded.Items);
        Assert.Equal(third.Base.Bytes, ContextView.SizeOf(loaded.Items.Take(4)));

        // Deleted since the plan was made: the full send reports it like the plan would have.
        Assert.True(await store.DeleteAsync(ConversationKey.TenantOf(key), "resp_2", CancellationToken.None));
        var (gone, status) = await tree.WithBaseItemsAsync(third, CancellationToken.None);
        Assert.Null(gone);
        Assert.Equal(ResponseStatus.Unknown, status);
    }

    /// <summary>
    /// An idle conversation keeps only its head's header: its next turn on the head, anchored or as full history, plans with
    /// no store read; an older response costs one read; a reference to an output of the path still resolves (its path is
    /// read once, as after a reactivation).
    /// </summary>
    [Fact]
    public async Task A_released_conversation_continues_its_head_without_a_store_read_and_still_resolves_references()
    {
        var (memory, key, epoch, _) = await NewConversationAsync("idle");
        var store = new PathReadCountingStore(memory);
        var tree = new ConversationTree(store, key);
        await CompleteAsync(tree, store, epoch, key, [Item(0)], "resp_1", Answer("msg_1", "one"));
        var second = await AnchoredPlanAsync(tree, "resp_1", Item(1));
        await CommitAsync(tree, store, epoch, key, second, "resp_2", Answer("msg_2", "two"));
        var before = await AnchoredPlanAsync(tree, "resp_2", Item(2));

        var released = tree.Released();
        Assert.True(released.IsReleased);
        Assert.False(tree.IsReleased);
        var reads = store.PathReads;
        var anchored = await AnchoredPlanAsync(released, "resp_2", Item(2));
        Assert.Equal(("resp_2", before.BaseCount, before.Base.Chain, before.Bytes), (anchored.Base.ResponseId, anchored.BaseCount, anchored.Base.Chain, anchored.Bytes));
        var history = await PlanAsync(released, [Item(0), Answer("msg_1", "one"), Item(1), Answer("msg_2", "two"), Item(2)]);
        Assert.Equal(("resp_2", 4), (history.Base.ResponseId, history.BaseCount));
        Assert.Equal(reads, store.PathReads);

        Assert.Equal(2, (await AnchoredPlanAsync(released, "resp_1", Item(1))).BaseCount);
        Assert.Equal(reads + 1, store.PathReads);

        var again = tree.Released();
        var referenced = await PlanAsync(again, [Item(0), Reference("msg_1"), Item(1), Reference("msg_2"), Item(2)]);
        Assert.Equal(("resp_2", 4), (referenced.Base.ResponseId, referenced.BaseCount));
        Assert.Equal([Item(2)], referenced.NewItems);
    }

    /// <summary>
    /// A long conversation's tree keeps only its recent responses' ids alive (each is one more object a busy silo's
    /// collector moves, for as long as it is cached), and still continues any older response, anchored or as full history,
    /// with one store read.
    /// </summary>
    [Fact]
    public async Task A_long_conversation_caches_only_its_recent_responses_and_still_continues_an_old_one()
    {
        var (memory, key, epoch, _) = await NewConversationAsync("long");
        var store = new PathReadCountingStore(memory);
        var tree = new ConversationTree(store, key);
        var history = new List<byte[]> { Item(0) };
        await CompleteAsync(tree, store, epoch, key, [Item(0)], "resp_0", Answer("msg_0", "zero"));
        history.Add(Answer("msg_0", "zero"));
        for (var i = 1; i < 300; i++)
        {
            await CommitAsync(tree, store, epoch, key, await AnchoredPlanAsync(tree, $"resp_{i - 1}", Item(i)), $"resp_{i}", Answer($"msg_{i}", "n"));
            if (i <= 5) history.AddRange([Item(i), Answer($"msg_{i}", "n")]);
        }
        Assert.InRange(tree.CachedResponseIds, 1, 64);

        var reads = store.PathReads;
        var anchored = await AnchoredPlanAsync(tree, "resp_5", Item(1000));
        Assert.Equal(("resp_5", 12), (anchored.Base.ResponseId, anchored.BaseCount));
        Assert.Equal(reads + 1, store.PathReads);
        var full = await PlanAsync(tree, [.. history, Item(1000)]);
        Assert.Equal(("resp_5", 12, anchored.Base.Chain), (full.Base.ResponseId, full.BaseCount, full.Base.Chain));
        Assert.Equal([Item(1000)], full.NewItems);
    }

    /// <summary>
    /// The caches keep a recent response's id inline, not its string: once a response is a few turns old nothing of the
    /// tree holds the id string it was committed with (a busy silo's collector moved every such string at each gen0
    /// collection), and the tree still continues that response from its cache, with no store read.
    /// </summary>
    [Fact]
    public async Task Cached_responses_keep_no_id_string_alive_and_still_plan_without_a_store_read()
    {
        var (memory, key, epoch, _) = await NewConversationAsync("inline-ids");
        var store = new PathReadCountingStore(memory);
        var tree = new ConversationTree(store, key);
        var committed = await CommitTurnsAsync(tree, store, epoch, key, turns: 12);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // The newest views (4) and the head still name the last few responses; nothing holds the older ones' strings.
        Assert.All(committed[..6], id => Assert.False(id.TryGetTarget(out _)));
        var reads = store.PathReads;
        var plan = await AnchoredPlanAsync(tree, "resp_3", Item(1000));
        Assert.Equal(("resp_3", 8), (plan.Base.ResponseId, plan.BaseCount));
        Assert.Equal(reads, store.PathReads);
    }

    /// <summary>Commits a chain of <paramref name="turns"/> responses, each id a new string; only weak references come back.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference<string>[]> CommitTurnsAsync(ConversationTree tree, IResponseTreeStore store, long epoch, string key, int turns)
    {
        var ids = new WeakReference<string>[turns];
        var first = string.Concat("resp_", "0");
        ids[0] = new(first);
        await CompleteAsync(tree, store, epoch, key, [Item(0)], first, Answer("msg_0", "zero"));
        for (var i = 1; i < turns; i++)
        {
            var id = string.Concat("resp_", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            ids[i] = new(id);
            await CommitAsync(tree, store, epoch, key, await AnchoredPlanAsync(tree, $"resp_{i - 1}", Item(i)), id, Answer($"msg_{i}", "n"));
        }
        return ids;
    }

    /// <summary>The memory store, counting the path reads a tree makes.</summary>
    private sealed class PathReadCountingStore(IResponseTreeStore inner) : IResponseTreeStore
    {
        public int PathReads;

        public Task<NodePath> LoadPathAsync(string tenant, string responseId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref PathReads);
            return inner.LoadPathAsync(tenant, responseId, cancellationToken);
        }

        public Task<ConversationHead> ClaimAsync(string conversationKey, CancellationToken ct) => inner.ClaimAsync(conversationKey, ct);
        public Task<bool> HasConversationAsync(string conversationKey, CancellationToken ct) => inner.HasConversationAsync(conversationKey, ct);
        public Task<bool> AppendAsync(long epoch, ResponseNode node, CancellationToken ct) => inner.AppendAsync(epoch, node, ct);
        public Task MarkPendingAsync(string conversationKey, string responseId, CancellationToken ct) => inner.MarkPendingAsync(conversationKey, responseId, ct);
        public Task SettleAsync(string conversationKey, string responseId, byte[] response, CancellationToken ct) => inner.SettleAsync(conversationKey, responseId, response, ct);
        public Task MarkResumableAsync(string conversationKey, string responseId, byte[] resumable, CancellationToken ct) => inner.MarkResumableAsync(conversationKey, responseId, resumable, ct);
        public Task RefreshPendingAsync(string conversationKey, string responseId, CancellationToken ct) => inner.RefreshPendingAsync(conversationKey, responseId, ct);
        public Task<byte[]?> LoadResumableAsync(string tenant, string responseId, CancellationToken ct) => inner.LoadResumableAsync(tenant, responseId, ct);
        public Task<ResponseLocation> LocateAsync(string tenant, string responseId, CancellationToken ct) => inner.LocateAsync(tenant, responseId, ct);
        public Task<ContentMatch?> FindByContentAsync(string tenant, IReadOnlyList<ulong> prefixChains, CancellationToken ct, LastReference? reference = null) =>
            inner.FindByContentAsync(tenant, prefixChains, ct, reference);
        public Task<StoredResponse> LoadResponseAsync(string tenant, string responseId, CancellationToken ct) => inner.LoadResponseAsync(tenant, responseId, ct);
        public Task<bool> DeleteAsync(string tenant, string responseId, CancellationToken ct) => inner.DeleteAsync(tenant, responseId, ct);
    }

    /// <summary>A claimed conversation in a fresh memory store, and a grain's tree of it.</summary>
    private static async Task<(MemoryResponseTreeStore Store, string Key, long Epoch, ConversationTree Tree)> NewConversationAsync(string kind)
    {
        var store = new MemoryResponseTreeStore(Options.Create(new StateOptions()), TimeProvider.System);
        var key = ConversationKey.Create("tree-tests", kind, Guid.NewGuid().ToString("N"));
        var epoch = (await store.ClaimAsync(key, CancellationToken.None)).Epoch;
        return (store, key, epoch, new ConversationTree(store, key));
    }

    private static async Task<TurnPlan> AnchoredPlanAsync(ConversationTree tree, string previous, params byte[][] input)
    {
        var (plan, missing) = await tree.PlanAsync(new TurnRequest
        {
            PreviousResponseId = previous, Settings = [], InputItems = input, InputFingerprints = ItemFingerprint.ComputeAll(input),
        }, CancellationToken.None);
        Assert.True(plan is not null, $"{previous} was answered {missing}");
        return plan;
    }

    private static async Task CommitAsync(ConversationTree tree, IResponseTreeStore store, long epoch, string key, TurnPlan plan, string responseId,
        params byte[][] outputs)
    {
        var (node, view) = ConversationTree.BuildNode(plan, responseId, outputs, ItemFingerprint.ComputeAll(outputs), key, response: """{"id":"r"}"""u8);
        Assert.True(await store.AppendAsync(epoch, node, CancellationToken.None));
        tree.Commit(node, view);
    }

    private static async Task CompleteAsync(ConversationTree tree, IResponseTreeStore store, long epoch, string key, byte[][] input, string responseId,
        params byte[][] outputs)
    {
        await CommitAsync(tree, store, epoch, key, await PlanAsync(tree, input), responseId, outputs);
    }

    private static async Task<TurnPlan> PlanAsync(ConversationTree tree, byte[][] input, string? resumeFrom = null)
    {
        var (plan, _) = await tree.PlanAsync(new TurnRequest
        {
            Settings = [], InputItems = input, InputFingerprints = ItemFingerprint.ComputeAll(input), ResumeFromResponseId = resumeFrom,
        }, CancellationToken.None);
        return plan!;
    }

    private static byte[] Json(string json) => Encoding.UTF8.GetBytes(json);

    private static byte[] Reference(string id) => Json($$"""{"type":"item_reference","id":"{{id}}"}""");

    private static byte[] Reasoning(string id) => Json($$"""{"id":"{{id}}","type":"reasoning","summary":[],"encrypted_content":"gAAA-{{id}}"}""");

    private static byte[] Answer(string id, string text) =>
        Json($$"""{"id":"{{id}}","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"{{text}}","annotations":[]}]}""");

    private static byte[] Item(int i) => Encoding.UTF8.GetBytes($$"""{"type":"message","role":"user","content":"turn {{i}}"}""");
}
