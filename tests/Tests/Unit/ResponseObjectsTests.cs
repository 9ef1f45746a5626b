using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Conversations;
using CodexLb.Protocol.Responses;

namespace CodexLb.Tests.Unit;

public sealed class ResponseObjectsTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static JsonElement J(byte[] b) => JsonDocument.Parse(b).RootElement;

    [Fact]
    public void An_envelope_drops_the_output_only_when_the_tree_holds_exactly_those_items_and_compose_puts_them_back()
    {
        var response = B("""{"id":"r","background":false,"output":[{"type":"message","id":"m1"},{"type":"reasoning","id":"rs"}],"usage":{"input_tokens":3}}""");

        var envelope = ResponseObjects.ToEnvelope(response, 2, background: false, out var stripped);
        Assert.True(stripped);
        Assert.Equal(0, J(envelope).GetProperty("output").GetArrayLength());
        Assert.Equal(3, J(envelope).GetProperty("usage").GetProperty("input_tokens").GetInt32());

        var composed = J(ResponseObjects.Compose(envelope, [B("""{"type":"message","id":"m1"}"""), B("""{"type":"reasoning","id":"rs"}""")]));
        Assert.Equal(["m1", "rs"], composed.GetProperty("output").EnumerateArray().Select(i => i.GetProperty("id").GetString()));

        var kept = ResponseObjects.ToEnvelope(response, 1, background: false, out stripped);
        Assert.False(stripped);
        Assert.Equal(response, kept);
    }

    [Fact]
    public void Background_is_set_or_added_as_the_client_asked()
    {
        Assert.True(J(ResponseObjects.ToEnvelope(B("""{"id":"r","background":false}"""), -1, true, out _)).GetProperty("background").GetBoolean());
        Assert.True(J(ResponseObjects.ToEnvelope(B("""{"id":"r"}"""), -1, true, out _)).GetProperty("background").GetBoolean());
        Assert.True(J(ResponseObjects.ToEnvelope(B("""{}"""), -1, true, out _)).GetProperty("background").GetBoolean());
    }

    [Fact]
    public void A_running_background_response_keeps_its_output_and_reads_back_as_background()
    {
        var running = B("""{"id":"r","background":false,"output":[{"id":"a"}]}""");
        var asked = ResponseObjects.AsBackground(running);
        Assert.True(ResponseObjects.IsBackground(asked));
        Assert.Equal(1, J(asked).GetProperty("output").GetArrayLength());
        Assert.False(ResponseObjects.IsBackground(running));
        Assert.False(ResponseObjects.IsBackground(B("""{"id":"r"}""")));
        Assert.True(ResponseObjects.IsBackground(ResponseObjects.AsBackground(B("""{"id":"r"}"""))));
    }

    [Fact]
    public void A_background_turns_event_says_background_and_keeps_everything_else_byte_for_byte()
    {
        var completed = B("""{"type":"response.completed","response":{"id":"r","background":false,"output":[{"id":"a"}]},"sequence_number":9}""");
        var asked = ResponseObjects.EventAsBackground(completed);
        Assert.Equal("""{"type":"response.completed","response":{"id":"r","background":true,"output":[{"id":"a"}]},"sequence_number":9}""",
            System.Text.Encoding.UTF8.GetString(asked));
        var delta = B("""{"type":"response.output_text.delta","delta":"x","sequence_number":3}""");
        Assert.Same(delta, ResponseObjects.EventAsBackground(delta)); // no response object: the event as it came
    }

    [Fact]
    public void A_response_in_a_conversation_names_it_and_no_previous_response_the_client_did_not_send()
    {
        var completed = B("""{"type":"response.completed","response":{"id":"r","previous_response_id":"resp_head","output":[{"id":"a"}],"conversation":null},"sequence_number":9}""");
        Assert.Equal("""{"type":"response.completed","response":{"id":"r","previous_response_id":null,"output":[{"id":"a"}],"conversation":{"id":"conv_1"}},"sequence_number":9}""",
            Encoding.UTF8.GetString(ResponseObjects.EventInConversation(completed, "conv_1")));
        // A provider that does not echo the field: it is added.
        Assert.Equal("""{"id":"r","status":"completed","conversation":{"id":"conv_1"}}""",
            Encoding.UTF8.GetString(ResponseObjects.InConversation(B("""{"id":"r","status":"completed"}"""), "conv_1")));
        var delta = B("""{"type":"response.output_text.delta","delta":"x","sequence_number":3}""");
        Assert.Same(delta, ResponseObjects.EventInConversation(delta, "conv_1"));
    }

    [Fact]
    public void A_re_run_responses_event_carries_its_clients_id_numbered_past_the_lost_run()
    {
        var created = B("""{"type":"response.created","response":{"id":"resp_new","status":"in_progress","output":[]},"sequence_number":0}""");
        var resumed = J(ResponseObjects.EventAsResumed(created, "resp_client", 2_000_000));
        Assert.Equal(("response.created", "resp_client", "in_progress", 2_000_000L),
            (resumed.GetProperty("type").GetString(), resumed.GetProperty("response").GetProperty("id").GetString(),
             resumed.GetProperty("response").GetProperty("status").GetString(), resumed.GetProperty("sequence_number").GetInt64()));
        var delta = J(ResponseObjects.EventAsResumed(B("""{"type":"response.output_text.delta","item_id":"msg_1","delta":"x","sequence_number":7}"""), "resp_client", 1_000_000));
        Assert.Equal(("msg_1", "x", 1_000_007L), (delta.GetProperty("item_id").GetString(), delta.GetProperty("delta").GetString(), delta.GetProperty("sequence_number").GetInt64()));
    }

    [Fact]
    public void Input_item_pages_follow_order_limit_and_after()
    {
        byte[][] items = [B("""{"id":"a"}"""), B("""{"id":"b"}"""), B("""{"id":"c"}""")];
        var desc = J(ResponseObjects.InputItemsPage(items, new InputItemsQuery(Limit: 2)));
        Assert.Equal(["c", "b"], desc.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        Assert.Equal(("c", "b", true), (desc.GetProperty("first_id").GetString(), desc.GetProperty("last_id").GetString(), desc.GetProperty("has_more").GetBoolean()));

        var next = J(ResponseObjects.InputItemsPage(items, new InputItemsQuery(Limit: 2, After: "b")));
        Assert.Equal(["a"], next.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        Assert.False(next.GetProperty("has_more").GetBoolean());

        var asc = J(ResponseObjects.InputItemsPage(items, new InputItemsQuery(Ascending: true)));
        Assert.Equal(["a", "b", "c"], asc.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
    }

    [Fact]
    public void Status_is_replaced()
    {
        Assert.Equal("cancelled", J(ResponseObjects.WithStatus(B("""{"id":"r","status":"in_progress"}"""), "cancelled")).GetProperty("status").GetString());
    }

    /// <summary>Conversation items as kept (with an id) and as sent to the provider again (without the ids made up here).</summary>
    [Fact]
    public void A_kept_item_without_an_id_gets_one_and_goes_to_the_provider_again_without_it_while_ids_sent_stay()
    {
        var conversation = ConversationObjects.NewId();
        Assert.True(ConversationObjects.IsWellFormed(conversation));

        var madeUp = ConversationObjects.AsKept(B("""{"role":"user","content":"hi"}"""), conversation, 3);
        var id = J(madeUp).GetProperty("id").GetString()!;
        Assert.StartsWith("msg_", id);
        Assert.EndsWith("_3", id);
        var input = J(ConversationObjects.AsInput(madeUp, conversation));
        Assert.False(input.TryGetProperty("id", out _));
        Assert.Equal("hi", input.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("user", input.GetProperty("role").GetString());

        // The provider's own output keeps its id; so does an id another conversation made up (it was sent as input here).
        var answer = ConversationObjects.AsKept(
            B("""{"id":"msg_abc","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"yo"}]}"""), conversation, 4);
        Assert.Equal("msg_abc", J(ConversationObjects.AsInput(answer, conversation)).GetProperty("id").GetString());
        var foreign = ConversationObjects.AsKept(B("""{"role":"user","content":"x"}"""), ConversationObjects.NewId(), 0);
        Assert.Equal(J(foreign).GetProperty("id").GetString(), J(ConversationObjects.AsInput(foreign, conversation)).GetProperty("id").GetString());
    }
}
