using System.Net;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Clients;

/// <summary>
/// The OpenAI Agents SDK (tests/Clients/openai-agents.mjs) on the Responses API. Its tool loop runs inside one
/// <c>run()</c>, which resends the turn's items for the answer; its stored-response API is the openai SDK's, tested there.
/// </summary>
public class OpenAiAgentsSdkTests(ProductFixture product) : NodeClientTests(product, "openai-agents.mjs")
{
    /// <summary>
    /// <c>OpenAIConversationsSession</c>: the SDK keeps the conversation's items in the Conversations API and sends them
    /// all with each new message; the provider still gets each item once, and the session's own operations (a window of
    /// the newest items, pop, clear) work on what it stored.
    /// </summary>
    [Fact]
    public async Task A_conversations_session_remembers_every_run_and_the_provider_gets_only_what_is_new()
    {
        var result = (await RunAsync("conversation-session")).AssertOk();
        Assert.Equal([Answer(1), Answer(2), Answer(3)], result.Turns.Select(t => t.Text));
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);

        string[] Texts(string name) => [.. result[name].EnumerateArray().Select(i => $"{i.GetProperty("role").GetString()}: {i.GetProperty("text").GetString()}")];
        Assert.Equal(
            ["user: My name is Alice.", $"assistant: {Answer(1)}", "user: What is my name?", $"assistant: {Answer(2)}", "user: Thanks, goodbye.", $"assistant: {Answer(3)}"],
            Texts("items"));
        Assert.Equal(["user: Thanks, goodbye.", $"assistant: {Answer(3)}"], Texts("lastTwo"));
        Assert.Equal($"assistant: {Answer(3)}", $"{result["popped"].GetProperty("role").GetString()}: {result["popped"].GetProperty("text").GetString()}");
        Assert.Equal(5, result["afterPop"].GetInt32());

        // clearSession deleted the conversation.
        using var gone = await Product.Http.GetAsync($"/v1/conversations/{result["conversationId"].GetString()}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    /// <summary>
    /// <c>run(agent, text, { conversationId })</c>: the SDK sends the create's <c>conversation</c> and only the new message.
    /// The bridge continues the conversation's last response (a delta upstream, on the same socket) and adds each response's
    /// input and output to the conversation; an item added through the Conversations API between runs reaches the model
    /// with the next message, and still only what is new goes upstream.
    /// </summary>
    [Fact]
    public async Task A_run_naming_its_conversation_continues_it_and_the_conversation_holds_every_item()
    {
        var result = (await RunAsync("conversation-id")).AssertOk();
        Assert.Equal([Answer(1), Answer(2), Answer(3), Answer(4)], result.Turns.Select(t => t.Text));
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1, 2);
        Assert.Equal(
            ["user: My name is Alice.", $"assistant: {Answer(1)}", "user: What is my name?", $"assistant: {Answer(2)}", "user: Thanks, goodbye.",
             $"assistant: {Answer(3)}", "user: I live in Paris.", "user: Where do I live?", $"assistant: {Answer(4)}"],
            result["items"].EnumerateArray().Select(i => $"{i.GetProperty("role").GetString()}: {i.GetProperty("text").GetString()}"));
    }
}

/// <summary>
/// Every Agents SDK scenario again over its websocket transport (<c>setOpenAIResponsesTransport('websocket')</c>: Responses
/// websocket mode, <c>response.create</c> frames on one socket per model), with the same checks.
/// </summary>
public sealed class OpenAiAgentsSdkWebSocketTests(ProductFixture product) : OpenAiAgentsSdkTests(product)
{
    protected override async Task<ScenarioResult> RunAsync(string scenario)
    {
        var result = await base.RunAsync("ws-" + scenario);
        if (result.Root.GetProperty("ok").GetBoolean())
            Assert.True(result["webSocketsOpened"].GetInt32() > 0, $"ws-{scenario}: the SDK opened no websocket (its model calls went over HTTP)");
        return result;
    }
}
