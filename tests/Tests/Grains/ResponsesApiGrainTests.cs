using System.Text.Json;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Grains;

/// <summary>The Responses API's answers for a response whose state changes while it is asked about.</summary>
[Collection(GrainClusterCollection.Name)]
public sealed class ResponsesApiGrainTests(GrainClusterFixture fixture)
{
    private const string Tenant = "api-tests";

    private IResponsesApiGrain Api => fixture.Grains.GetGrain<IResponsesApiGrain>(0);

    private async Task<(string Key, string ResponseId)> CompletedAsync(bool background)
    {
        var key = ConversationKey.Create(Tenant, "session", Guid.NewGuid().ToString("N"));
        var body = Items.Body([Items.Message("user", "answer me " + key)]);
        body.Remove("store"); // stored, as the API's default
        body["background"] = background;
        var events = await Turns.RunAsync(fixture.Grains.GetGrain<IConversationGrain>(key), body);
        Assert.Equal("response.completed", events[^1].Type);
        return (key, events.ResponseId());
    }

    private static JsonElement Json(ApiReply reply) => JsonDocument.Parse(reply.Body).RootElement;

    [Fact]
    public async Task A_response_that_completes_between_two_reads_is_answered_whole_never_as_lost()
    {
        var (key, id) = await CompletedAsync(background: true);

        // The first read still sees it running; its conversation no longer runs it: it completed in between.
        fixture.ReportPendingOnce(id, key);
        var retrieved = await Api.Retrieve(Tenant, id);
        Assert.Equal(200, retrieved.Status);
        Assert.Equal(("completed", id), (Json(retrieved).GetProperty("status").GetString(), Json(retrieved).GetProperty("id").GetString()));

        fixture.ReportPendingOnce(id, key);
        var cancelled = await Api.Cancel(Tenant, id);
        Assert.Equal(200, cancelled.Status);
        Assert.Equal("completed", Json(cancelled).GetProperty("status").GetString()); // over already: cancel changes nothing
    }

    [Fact]
    public async Task Cancel_of_a_completed_foreground_response_is_refused_as_the_api_refuses_it()
    {
        var (key, id) = await CompletedAsync(background: false);
        fixture.ReportPendingOnce(id, key);
        var refused = await Api.Cancel(Tenant, id);
        Assert.Equal(400, refused.Status);
        Assert.Equal("invalid_request_error", Json(refused).GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(200, (await Api.Retrieve(Tenant, id)).Status);
    }
}
