using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Conversation;
using CodexLb.Protocol.Items;

namespace CodexLb.Tests.Unit;

public sealed class ConversationContextTests
{
    private static byte[] Msg(string role, string text) => Encoding.UTF8.GetBytes($$"""{"type":"message","role":"{{role}}","content":[{"type":"input_text","text":"{{text}}"}]}""");
    private static byte[] Out(string text) => Encoding.UTF8.GetBytes($$"""{"id":"msg_o","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"{{text}}","annotations":[]}]}""");
    private static byte[] Echo(string text) => Encoding.UTF8.GetBytes($$"""{"type":"message","role":"assistant","content":[{"type":"output_text","text":"{{text}}"}],"id":"msg_o"}""");

    private static TurnRequest Turn(string? previous, params byte[][] items) => new()
    {
        PreviousResponseId = previous, Settings = [], InputItems = items, InputFingerprints = ItemFingerprint.ComputeAll(items),
    };

    private static ConversationContext Commit(ConversationContext context, TurnPlan plan, string id, params byte[][] outputs)
    {
        context.Commit(plan, outputs, ItemFingerprint.ComputeAll(outputs), id);
        return context;
    }

    [Fact]
    public void A_full_history_client_that_extends_the_context_sends_only_new_items()
    {
        var context = new ConversationContext(new ConversationState(), []);
        var first = context.Plan(Turn(null, Msg("developer", "sys"), Msg("user", "q1")))!;
        Assert.Equal(0, first.BaseCount);
        Assert.Null(first.AnchorResponseId);
        Commit(context, first, "resp_1", Out("a1"));

        var second = context.Plan(Turn(null, Msg("developer", "sys"), Msg("user", "q1"), Echo("a1"), Msg("user", "q2")))!;
        Assert.Equal(3, second.BaseCount);
        Assert.Equal(1, second.NewCount);
        Assert.Equal("resp_1", second.AnchorResponseId);
    }

    [Fact]
    public void A_rewritten_history_resets_to_a_full_send()
    {
        var context = new ConversationContext(new ConversationState(), []);
        Commit(context, context.Plan(Turn(null, Msg("developer", "sys"), Msg("user", "q1")))!, "resp_1", Out("a1"));
        var plan = context.Plan(Turn(null, Msg("developer", "sys"), Msg("user", "edited"), Msg("user", "q2")))!;
        Assert.Equal(0, plan.BaseCount);
        Assert.Null(plan.AnchorResponseId);
        Assert.Equal(3, plan.Items.Count);
    }

    [Fact]
    public void A_delta_client_anchors_on_its_previous_response_and_can_retry_an_older_one()
    {
        var context = new ConversationContext(new ConversationState(), []);
        Commit(context, context.Plan(Turn(null, Msg("user", "q1")))!, "resp_1", Out("a1"));
        var second = context.Plan(Turn("resp_1", Msg("user", "q2")))!;
        Assert.Equal(2, second.BaseCount);
        Assert.Equal("resp_1", second.AnchorResponseId);
        Commit(context, second, "resp_2", Out("a2"));
        Assert.Equal(4, context.Items.Count);

        // Retrying turn 2 (client never saw resp_2) forks from resp_1 and forgets resp_2.
        var retry = context.Plan(Turn("resp_1", Msg("user", "q2")))!;
        Assert.Equal(2, retry.BaseCount);
        Commit(context, retry, "resp_2b", Out("a2b"));
        Assert.Null(context.Plan(Turn("resp_2", Msg("user", "q3"))));
        Assert.NotNull(context.Plan(Turn("resp_2b", Msg("user", "q3"))));
    }

    [Fact]
    public void A_compaction_item_replaces_what_it_compacts()
    {
        var context = new ConversationContext(new ConversationState(), []);
        Commit(context, context.Plan(Turn(null, Msg("developer", "sys"), Msg("user", "q1")))!, "resp_1", Out("a1"));
        var compact = context.Plan(Turn("resp_1", Msg("user", "please compaction_trigger")))!;
        var compaction = Encoding.UTF8.GetBytes("""{"type":"compaction","id":"cmp_1","encrypted_content":"summary-of-everything"}""");
        var kept = context.Commit(compact, [compaction], ItemFingerprint.ComputeAll([compaction]), "resp_2");

        Assert.Equal(0, kept); // the store must rewrite, not append
        Assert.Single(context.Items);
        Assert.Null(context.Plan(Turn("resp_1", Msg("user", "old anchor")))); // stood for the uncompacted history
        var next = context.Plan(Turn("resp_2", Msg("user", "after compaction")))!;
        Assert.Equal((1, 2), (next.BaseCount, next.Items.Count));
        // A full-history client that now starts from the compaction item extends the context.
        Assert.Equal("resp_2", context.Plan(Turn(null, compaction, Msg("user", "after compaction")))!.AnchorResponseId);
    }

    [Fact]
    public void An_unknown_anchor_is_not_planned()
    {
        var context = new ConversationContext(new ConversationState(), []);
        Assert.Null(context.Plan(Turn("resp_never", Msg("user", "q"))));
    }

    [Fact]
    public void Restoring_drops_items_past_the_committed_count_and_resets_when_items_were_lost()
    {
        var state = new ConversationState { ItemCount = 2, LastResponseId = "resp_1", Anchors = [new AnchorPoint("resp_1", 2)] };
        var extra = new ConversationContext(state, [Msg("user", "q1"), Out("a1"), Msg("user", "half-saved")]);
        Assert.Equal(2, extra.Items.Count);
        Assert.Equal("resp_1", extra.Plan(Turn(null, Msg("user", "q1"), Echo("a1"), Msg("user", "q2")))!.AnchorResponseId);

        var lostState = new ConversationState { ItemCount = 2, LastResponseId = "resp_1", Anchors = [new AnchorPoint("resp_1", 2)] };
        var lost = new ConversationContext(lostState, [Msg("user", "q1")]);
        Assert.Empty(lost.Items);
        Assert.Null(lostState.LastResponseId);
    }
}
