using System.Text.Json.Nodes;
using CodexLb.Grains.Conversation;
using CodexLb.Protocol.Items;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Unit;

/// <summary>A turn's identity is the question it asks (context and settings), not the shape of the request that asks it.</summary>
public sealed class TurnFingerprintTests
{
    private static readonly JsonNode System = Items.Message("developer", "sys"), Question = Items.Message("user", "q");

    private static ulong Of(JsonObject body) => TurnFingerprint.Of(Turns.Request(body), ContextChain.Extend(ContextChain.Empty, Turns.Request(body).InputFingerprints));

    [Fact]
    public void Property_order_and_the_codex_clis_client_metadata_do_not_count()
    {
        var attempt = Items.Body([System, Question]).WithClientMetadata("thread", "turn-1");
        var retry = Items.Body([System, Question]).WithClientMetadata("thread", "turn-1", attempt: 1);
        retry.Remove("model");
        retry["model"] = "gpt-5.5"; // last instead of first
        Assert.Equal(Of(attempt), Of(retry));
        Assert.Equal(Of(attempt), Of(Items.Body([System, Question])));
    }

    [Fact]
    public void Another_setting_another_context_or_a_warm_up_is_another_turn()
    {
        var turn = Of(Items.Body([System, Question]));
        var effort = Items.Body([System, Question]);
        effort["reasoning"] = new JsonObject { ["effort"] = "high" };
        Assert.NotEqual(turn, Of(effort));
        var model = Items.Body([System, Question]);
        model["model"] = "gpt-5.5-mini";
        Assert.NotEqual(turn, Of(model));
        Assert.NotEqual(turn, Of(Items.Body([System, Items.Message("user", "another question")])));
        var warmUp = Items.Body([System, Question]);
        warmUp["generate"] = false;
        Assert.NotEqual(turn, Of(warmUp));
    }

    [Fact]
    public void Without_a_known_context_the_anchor_and_the_input_stand_for_it()
    {
        var request = Turns.Request(Items.Body([Question], previousResponseId: "resp_a"));
        Assert.Equal(TurnFingerprint.Of(request, null), TurnFingerprint.Of(Turns.Request(Items.Body([Question], previousResponseId: "resp_a")), null));
        Assert.NotEqual(TurnFingerprint.Of(request, null), TurnFingerprint.Of(Turns.Request(Items.Body([Question], previousResponseId: "resp_b")), null));
    }

    [Fact]
    public void A_request_from_a_gateway_that_sent_no_settings_fingerprint_is_the_same_turn()
    {
        // The owner reads the settings back for an older gateway's request: both ways must give one identity.
        var body = Items.Body([System, Question]).WithClientMetadata("thread", "turn-1");
        body["reasoning"] = new JsonObject { ["effort"] = "high", ["summary"] = "auto" };
        var parsed = Turns.Request(body);
        Assert.NotEqual(0UL, parsed.SettingsFingerprint);
        var context = ContextChain.Extend(ContextChain.Empty, parsed.InputFingerprints);
        Assert.Equal(TurnFingerprint.Of(parsed, context), TurnFingerprint.Of(parsed with { SettingsFingerprint = 0 }, context));
    }
}
