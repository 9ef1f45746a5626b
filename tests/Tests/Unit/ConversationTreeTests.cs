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
    [InlineData(1_500)] // deeper than the tree's node cache (1,024): a long Codex session's turns, one per tool call
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

    private static byte[] Item(int i) => Encoding.UTF8.GetBytes($$"""{"type":"message","role":"user","content":"turn {{i}}"}""");
}
