using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Grains;

/// <summary>The Conversations API grain's two steps of a response in a conversation, as gateways of two builds call them.</summary>
[Collection(GrainClusterCollection.Name)]
public sealed class ConversationsApiGrainTests(GrainClusterFixture fixture)
{
    private const string Tenant = "conversations-api-tests";

    private IConversationsApiGrain Api => fixture.Grains.GetGrain<IConversationsApiGrain>(0);

    private static byte[] Message(string text) => Encoding.UTF8.GetBytes($$"""{"type":"message","role":"user","content":"{{text}}"}""");

    private async Task<string> CreateAsync() =>
        System.Text.Json.JsonDocument.Parse((await Api.Create(Tenant, [Message("hello")], null)).Body).RootElement.GetProperty("id").GetString()!;

    [Fact]
    public async Task A_gateway_of_the_build_before_continues_and_adds_as_it_did_and_gets_no_retry_answer()
    {
        var id = await CreateAsync();
        Assert.Equal((0L, (string?)null, 1), (await Api.Continue(Tenant, id, fromItems: false)) is { } s ? (s.Version, s.HeadResponseId, s.Items.Length) : default);

        Assert.True(await Api.AddResponse(Tenant, id, 0, "resp_old", [Message("q"), Message("a")]));
        Assert.True(await Api.AddResponse(Tenant, id, 0, "resp_old", [Message("q"), Message("a")])); // retried: added once
        var next = await Api.Continue(Tenant, id, fromItems: false);
        Assert.Equal((1L, "resp_old", (string?)null), (next!.Version, next.HeadResponseId, next.RetryOf));
    }

    [Fact]
    public async Task The_same_input_right_after_the_head_was_added_starts_where_the_heads_turn_started_and_other_input_after_it()
    {
        var id = await CreateAsync();
        var input = Protocol.Items.ItemFingerprint.OfSequence([Message("q")]);
        Assert.True(await Api.AddResponse(Tenant, id, new ConversationResponse("resp_1", 0, null, input, [Message("q"), Message("a")])));

        var retry = await Api.Continue(Tenant, id, fromItems: false, input);
        Assert.Equal((0L, (string?)null, "resp_1", 1), (retry!.Version, retry.HeadResponseId, retry.RetryOf, retry.Items.Length)); // the items before it

        var other = await Api.Continue(Tenant, id, fromItems: false, Protocol.Items.ItemFingerprint.OfSequence([Message("something else")]));
        Assert.Equal((1L, "resp_1", (string?)null), (other!.Version, other.HeadResponseId, other.RetryOf));

        Assert.True(await Api.AddResponse(Tenant, id, new ConversationResponse("resp_2", 1, "resp_1", input, [Message("q"), Message("b")])));
        var againAfterContinued = await Api.Continue(Tenant, id, fromItems: false, input);
        Assert.Equal((1L, "resp_1", "resp_2"), (againAfterContinued!.Version, againAfterContinued.HeadResponseId, againAfterContinued.RetryOf));
    }
}
