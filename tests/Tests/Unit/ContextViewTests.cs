using System.Text;
using CodexLb.Grains.Conversation;
using CodexLb.Protocol.Items;

namespace CodexLb.Tests.Unit;

/// <summary>
/// Views that extend one another share a buffer; what each one reads must stay exactly its own context whatever its
/// siblings and descendants append, or a fork would send the model another branch's items.
/// </summary>
public sealed class ContextViewTests
{
    private static byte[] Item(string text) => Encoding.UTF8.GetBytes(text);

    private static string[] Read(ContextView view) => [.. view.Items.ToArray().Select(Encoding.UTF8.GetString)];

    private static ContextView Extend(ContextView view, string id, params string[] items) =>
        view.Extend(id, [.. items.Select(Item)], ContextChain.Empty, synthetic: false, view.Bytes + items.Sum(i => i.Length));

    [Fact]
    public void A_chain_of_turns_reads_each_views_own_context()
    {
        var views = new List<ContextView> { ContextView.Empty };
        for (var turn = 0; turn < 100; turn++) views.Add(Extend(views[^1], $"resp_{turn}", $"in{turn}", $"out{turn}"));

        for (var turn = 0; turn <= 100; turn++)
        {
            var expected = Enumerable.Range(0, turn).SelectMany(t => new[] { $"in{t}", $"out{t}" }).ToArray();
            Assert.Equal(expected, Read(views[turn]));
            Assert.Equal(2 * turn, views[turn].Count);
        }
    }

    [Fact]
    public void Forks_of_one_view_do_not_see_or_overwrite_each_others_items()
    {
        var root = Extend(Extend(ContextView.Empty, "resp_a", "a1", "a2"), "resp_b", "b1");
        var first = Extend(root, "resp_c", "c1");   // ends the shared buffer: written in place
        var second = Extend(root, "resp_d", "d1", "d2"); // a fork: must not write over c1
        var third = Extend(first, "resp_e", "e1");

        Assert.Equal(["a1", "a2", "b1"], Read(root));
        Assert.Equal(["a1", "a2", "b1", "c1"], Read(first));
        Assert.Equal(["a1", "a2", "b1", "d1", "d2"], Read(second));
        Assert.Equal(["a1", "a2", "b1", "c1", "e1"], Read(third));
        // The fork's own line continues in place too, and still leaves the others alone.
        var fourth = Extend(second, "resp_f", "f1");
        Assert.Equal(["a1", "a2", "b1", "d1", "d2", "f1"], Read(fourth));
        Assert.Equal(["a1", "a2", "b1", "c1", "e1"], Read(third));
    }

    [Fact]
    public void A_view_taken_over_from_an_array_grows_without_changing_its_parent()
    {
        var assembled = new ContextView("resp_x", [Item("x1"), Item("x2")], ContextChain.Empty, synthetic: false, 4);
        var grown = Extend(assembled, "resp_y", "y1");
        var sibling = Extend(assembled, "resp_z", "z1");

        Assert.Equal(["x1", "x2"], Read(assembled));
        Assert.Equal(["x1", "x2", "y1"], Read(grown));
        Assert.Equal(["x1", "x2", "z1"], Read(sibling));
        Assert.Equal(3, grown.Count);
    }
}
