using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Conversations;

namespace CodexLb.Tests.Unit;

/// <summary>Conversation items as kept (with an id) and as sent to the provider again (without the ids made up here).</summary>
public sealed class ConversationObjectsTests
{
    private static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);

    private static JsonElement Json(byte[] bytes) => JsonDocument.Parse(bytes).RootElement;

    [Fact]
    public void A_kept_item_without_an_id_gets_one_and_goes_to_the_provider_again_without_it_while_ids_sent_stay()
    {
        var conversation = ConversationObjects.NewId();
        Assert.True(ConversationObjects.IsWellFormed(conversation));

        var madeUp = ConversationObjects.AsKept(Bytes("""{"role":"user","content":"hi"}"""), conversation, 3);
        var id = Json(madeUp).GetProperty("id").GetString()!;
        Assert.StartsWith("msg_", id);
        Assert.EndsWith("_3", id);
        var input = Json(ConversationObjects.AsInput(madeUp, conversation));
        Assert.False(input.TryGetProperty("id", out _));
        Assert.Equal("hi", input.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("user", input.GetProperty("role").GetString());

        // The provider's own output keeps its id; so does an id another conversation made up (it was sent as input here).
        var answer = ConversationObjects.AsKept(
            Bytes("""{"id":"msg_abc","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"yo"}]}"""), conversation, 4);
        Assert.Equal("msg_abc", Json(ConversationObjects.AsInput(answer, conversation)).GetProperty("id").GetString());
        var foreign = ConversationObjects.AsKept(Bytes("""{"role":"user","content":"x"}"""), ConversationObjects.NewId(), 0);
        Assert.Equal(Json(foreign).GetProperty("id").GetString(), Json(ConversationObjects.AsInput(foreign, conversation)).GetProperty("id").GetString());
    }
}
