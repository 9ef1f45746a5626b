using System.Net;
using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Errors;
using CodexLb.Tests.Clients;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;

namespace CodexLb.Tests.EndToEnd;

/// <summary>
/// The Conversations API as the SDKs call it: a conversation is a list of items with metadata, kept per API key; items get
/// stable ids, list in either order with cursors, and can be retrieved and deleted one by one.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ConversationsApiTests(ProductFixture product)
{
    private async Task<(HttpStatusCode Status, JsonElement Json)> SendAsync(HttpMethod method, string path, string? body = null, HttpClient? http = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await (http ?? product.Http).SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task<string> CreateAsync(string body)
    {
        var (status, created) = await SendAsync(HttpMethod.Post, "/v1/conversations", body);
        Assert.Equal(HttpStatusCode.OK, status);
        return created.GetProperty("id").GetString()!;
    }

    private static string[] Texts(JsonElement list) =>
        [.. list.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("content")[0].GetProperty("text").GetString()!)];

    private HttpClient SecondTenant()
    {
        var http = new HttpClient { BaseAddress = product.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        return http;
    }

    [Fact]
    public async Task A_conversation_is_created_with_items_and_metadata_and_retrieved_updated_and_deleted_by_its_own_key_only()
    {
        var (status, created) = await SendAsync(HttpMethod.Post, "/v1/conversations",
            """{"items":[{"role":"user","content":"hello there"}],"metadata":{"topic":"demo"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("conv_", id);
        Assert.Equal("conversation", created.GetProperty("object").GetString());
        Assert.Equal("demo", created.GetProperty("metadata").GetProperty("topic").GetString());
        Assert.True(created.GetProperty("created_at").GetInt64() > 1_700_000_000);

        var (_, retrieved) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}");
        Assert.Equal(created.GetRawText(), retrieved.GetRawText());

        using (var other = SecondTenant())
        {
            Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}", http: other)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"/v1/conversations/{id}", http: other)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items", http: other)).Status);
        }

        var (updatedStatus, updated) = await SendAsync(HttpMethod.Post, $"/v1/conversations/{id}", """{"metadata":{"topic":"changed","n":"2"}}""");
        Assert.Equal(HttpStatusCode.OK, updatedStatus);
        Assert.Equal("changed", updated.GetProperty("metadata").GetProperty("topic").GetString());
        Assert.Equal("2", (await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}")).Json.GetProperty("metadata").GetProperty("n").GetString());

        var (deletedStatus, deleted) = await SendAsync(HttpMethod.Delete, $"/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.OK, deletedStatus);
        Assert.Equal("conversation.deleted", deleted.GetProperty("object").GetString());
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        var (goneStatus, gone) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.NotFound, goneStatus);
        Assert.Contains(id, gone.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/v1/conversations/{id}/items", """{"items":[{"role":"user","content":"late"}]}""")).Status);
    }

    [Fact]
    public async Task Items_keep_their_order_and_ids_list_both_ways_with_cursors_and_are_retrieved_and_deleted_one_by_one()
    {
        var id = await CreateAsync("""{"items":[{"role":"user","content":"one"}]}""");
        var (addedStatus, added) = await SendAsync(HttpMethod.Post, $"/v1/conversations/{id}/items",
            """{"items":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"two"}]},{"role":"user","content":"three"}]}""");
        Assert.Equal(HttpStatusCode.OK, addedStatus);
        Assert.Equal(["two", "three"], Texts(added));
        Assert.False(added.GetProperty("has_more").GetBoolean());

        var (_, ascending) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items?order=asc");
        Assert.Equal(["one", "two", "three"], Texts(ascending));
        var items = ascending.GetProperty("data").EnumerateArray().ToList();
        Assert.All(items, i => Assert.Equal("message", i.GetProperty("type").GetString()));
        Assert.All(items, i => Assert.Equal("completed", i.GetProperty("status").GetString()));
        Assert.Equal("input_text", items[0].GetProperty("content")[0].GetProperty("type").GetString()); // the shorthand as parts
        var ids = items.Select(i => i.GetProperty("id").GetString()!).ToList();
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(ids[0], ascending.GetProperty("first_id").GetString());

        var (_, newest) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items?limit=2");
        Assert.Equal(["three", "two"], Texts(newest)); // desc by default
        Assert.True(newest.GetProperty("has_more").GetBoolean());
        var (_, rest) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items?limit=2&after={newest.GetProperty("last_id").GetString()}");
        Assert.Equal(["one"], Texts(rest));
        Assert.False(rest.GetProperty("has_more").GetBoolean());

        var (itemStatus, item) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items/{ids[1]}");
        Assert.Equal(HttpStatusCode.OK, itemStatus);
        Assert.Equal("two", item.GetProperty("content")[0].GetProperty("text").GetString());

        var (deleteStatus, conversation) = await SendAsync(HttpMethod.Delete, $"/v1/conversations/{id}/items/{ids[1]}");
        Assert.Equal(HttpStatusCode.OK, deleteStatus);
        Assert.Equal(id, conversation.GetProperty("id").GetString()); // the API answers the conversation
        Assert.Equal(["one", "three"], Texts((await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items?order=asc")).Json));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items/{ids[1]}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"/v1/conversations/{id}/items/{ids[1]}")).Status);

        // Items added after a deletion get new numbers: no id is ever given twice.
        var (_, later) = await SendAsync(HttpMethod.Post, $"/v1/conversations/{id}/items", """{"items":[{"role":"user","content":"four"}]}""");
        Assert.DoesNotContain(later.GetProperty("first_id").GetString(), ids);
    }

    [Theory]
    [InlineData("/v1/conversations", "{", ErrorCodes.InvalidJson, null)]
    [InlineData("/v1/conversations", """{"items":"hi"}""", ErrorCodes.InvalidRequest, "items")]
    [InlineData("/v1/conversations", """{"items":[42]}""", ErrorCodes.InvalidRequest, "items[0]")]
    [InlineData("/v1/conversations", """{"items":[{"content":"no role or type"}]}""", ErrorCodes.InvalidRequest, "items[0]")]
    [InlineData("/v1/conversations", """{"metadata":{"n":1}}""", ErrorCodes.InvalidRequest, "metadata")]
    [InlineData("/v1/conversations", """{"metadata":"x"}""", ErrorCodes.InvalidRequest, "metadata")]
    [InlineData("/v1/conversations/{id}/items", """{"items":[]}""", ErrorCodes.InvalidRequest, "items")]
    [InlineData("/v1/conversations/{id}", """{}""", ErrorCodes.InvalidRequest, "metadata")]
    public async Task Bad_bodies_are_a_400_naming_the_parameter(string path, string body, string code, string? param)
    {
        var id = await CreateAsync("{}");
        var (status, answer) = await SendAsync(HttpMethod.Post, path.Replace("{id}", id), body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = answer.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task More_than_twenty_items_or_seventeen_metadata_pairs_are_refused_and_limits_are_checked_before_the_store()
    {
        var items = string.Join(",", Enumerable.Range(0, 21).Select(i => $$"""{"role":"user","content":"{{i}}"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Post, "/v1/conversations", $$"""{"items":[{{items}}]}""")).Status);
        var pairs = string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\""));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Post, "/v1/conversations", "{\"metadata\":{" + pairs + "}}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, "/v1/conversations/conv_x/items?limit=0")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/conversations/not-a-conversation")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Post, "/v1/conversations", "{}", new HttpClient { BaseAddress = product.BaseUrl })).Status);
    }

    /// <summary>
    /// A response created with <c>conversation</c>: the first one goes upstream with the conversation's items and its input;
    /// the next one continues it (a delta, either way it names the conversation, streamed or not); each response's input
    /// and output are in the conversation before the client hears it completed. Once an item is deleted the items no longer
    /// match the last response, so the next one goes with the items as they are now.
    /// </summary>
    [Fact]
    public async Task A_response_in_a_conversation_continues_it_and_adds_its_input_and_output_to_it()
    {
        var id = await CreateAsync("""{"items":[{"type":"message","role":"user","content":"My name is Bob."}]}""");
        var ledger = product.Simulator.Ledger;

        var first = await SseClient.PostAsync(product.Http, "/v1/responses", new { model = "gpt-5.5", input = "What is my name?", conversation = id });
        Assert.True(Rx.IsCompleted(first), Rx.Describe(first));
        var firstUpstream = ledger.Request(Rx.ResponseIdOf(first)!);
        Assert.False(firstUpstream.IsDelta);
        Assert.Equal(2, firstUpstream.InputItemCount);
        // Asked again at once, a response that went with the conversation's items is answered again too.
        var firstAgain = await SseClient.PostAsync(product.Http, "/v1/responses", new { model = "gpt-5.5", input = "What is my name?", conversation = id });
        Assert.Equal(Rx.ResponseIdOf(first), Rx.ResponseIdOf(firstAgain));

        var second = await SseClient.PostAsync(product.Http, "/v1/responses", new { model = "gpt-5.5", input = "Thanks.", conversation = new { id }, stream = true });
        Assert.True(Rx.IsCompleted(second), Rx.Describe(second));
        var secondUpstream = ledger.Request(second.ResponseId!);
        Assert.True(secondUpstream.IsDelta, "the second response went upstream in full");
        Assert.Equal(firstUpstream.ResponseId, secondUpstream.PreviousResponseId);
        Assert.Equal(1, secondUpstream.InputItemCount);
        Assert.Equal("Simulated answer #2.", string.Concat(second.OutputItems.Select(i => i.GetProperty("content")[0].GetProperty("text").GetString())));
        // As the API shows it: the response names its conversation, and no previous response (the client sent none).
        var (_, retrieved) = await SendAsync(HttpMethod.Get, $"/v1/responses/{second.ResponseId}");
        foreach (var response in new[] { second.Events[^1].Data.GetProperty("response"), first.Json, retrieved })
        {
            Assert.Equal(id, response.GetProperty("conversation").GetProperty("id").GetString());
            Assert.Equal(JsonValueKind.Null, response.GetProperty("previous_response_id").ValueKind);
        }

        // The same request again at once (a client whose gateway died between adding the response and telling it): the same
        // response, not a second generation, and nothing added twice.
        var again = await SseClient.PostAsync(product.Http, "/v1/responses", new { model = "gpt-5.5", input = "Thanks.", conversation = new { id }, stream = true });
        Assert.True(Rx.IsCompleted(again), Rx.Describe(again));
        Assert.Equal(second.ResponseId, again.ResponseId);

        var (_, list) = await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items?order=asc");
        Assert.Equal(["My name is Bob.", "What is my name?", "Simulated answer #1.", "Thanks.", "Simulated answer #2."], Texts(list));
        var ids = list.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, $"/v1/conversations/{id}/items/{ids[0]}")).Status);
        var third = await SseClient.PostAsync(product.Http, "/v1/responses", new { model = "gpt-5.5", input = "Bye.", conversation = id });
        Assert.True(Rx.IsCompleted(third), Rx.Describe(third));
        var thirdUpstream = ledger.Request(Rx.ResponseIdOf(third)!);
        Assert.False(thirdUpstream.IsDelta, "the items changed, yet the response continued the last one");
        Assert.Equal(5, thirdUpstream.InputItemCount);
    }

    [Fact]
    public async Task A_response_naming_an_unknown_or_foreign_conversation_is_a_404_and_one_naming_an_anchor_too_is_a_400()
    {
        var id = await CreateAsync("{}");
        async Task<OpenAIError> RefusedAsync(object body, HttpClient? http = null)
        {
            var refused = await SseClient.PostAsync(http ?? product.Http, "/v1/responses", body);
            var error = refused.Json.GetProperty("error");
            return new OpenAIError((int)refused.Status, error.GetProperty("code").GetString()!, error.GetProperty("message").GetString()!, error.GetProperty("type").GetString()!,
                error.GetProperty("param").GetString());
        }

        using var other = SecondTenant();
        foreach (var error in new[] { await RefusedAsync(new { model = "gpt-5.5", input = "hi", conversation = "conv_" + new string('0', 48) }),
                     await RefusedAsync(new { model = "gpt-5.5", input = "hi", conversation = id }, other) })
        {
            Assert.Equal((404, "conversation"), (error.Status, error.Param));
        }
        var both = await RefusedAsync(new { model = "gpt-5.5", input = "hi", conversation = id, previous_response_id = "resp_1" });
        Assert.Equal((400, "conversation"), (both.Status, both.Param));
        Assert.Empty(Texts((await SendAsync(HttpMethod.Get, $"/v1/conversations/{id}/items")).Json));
    }
}
