using System.Text;
using CodexLb.Grains.Conversation;
using CodexLb.Protocol.Items;

namespace CodexLb.Tests.Unit;

/// <summary>
/// A grain keeps views without their items: what it keeps must still plan and bound a turn, and must never pass for an
/// empty context (a full send from it would tell the model the conversation starts now).
/// </summary>
public sealed class ContextViewTests
{
    private static byte[] Item(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void A_view_without_its_items_keeps_what_a_plan_needs_and_refuses_to_read_as_empty()
    {
        var held = new ContextView("resp_x", [Item("x1"), Item("x22")], chain: 42, synthetic: false, bytes: 5);
        var kept = held.WithoutItems();

        Assert.True(held.HasItems);
        Assert.Equal(["x1", "x22"], held.Items.ToArray().Select(Encoding.UTF8.GetString));
        Assert.False(kept.HasItems);
        Assert.Equal(("resp_x", 2, 42UL, 5L), (kept.ResponseId, kept.Count, kept.Chain, kept.Bytes));
        Assert.Throws<InvalidOperationException>(() => kept.Items);
    }

    [Fact]
    public void An_extended_view_counts_its_base_and_its_new_items_and_holds_none()
    {
        var first = ContextView.Empty.Extend("resp_a", 2, chain: 7, synthetic: false, bytes: 10);
        var second = first.Extend("resp_b", 3, chain: 9, synthetic: true, bytes: 25);

        Assert.Equal((5, 9UL, true, 25L), (second.Count, second.Chain, second.Synthetic, second.Bytes));
        Assert.False(second.HasItems);
        // The empty context is the one view that always holds its (no) items: a first turn never reads the store.
        Assert.True(ContextView.Empty.HasItems);
        Assert.Same(ContextView.Empty, ContextView.Empty.WithoutItems());
        Assert.Equal(ContextChain.Empty, ContextView.Empty.Chain);
    }
}
