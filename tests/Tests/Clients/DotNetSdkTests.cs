using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using OpenAI.Responses;

// The SDK marks its whole Responses surface experimental (OPENAI001); testing that surface is the point.
#pragma warning disable OPENAI001

namespace CodexLb.Tests.Clients;

/// <summary>
/// The OpenAI .NET SDK (NuGet <c>OpenAI</c> 2.15.0, <see cref="ResponsesClient"/>) in-process against the embedded
/// product: the common scenarios, reported in the scripts' result shape, and the stored-response lifecycle.
/// </summary>
public sealed class DotNetSdkTests(ProductFixture product) : ClientScenarioTests(product)
{
    private const string Model = "gpt-5.5";
    private static readonly string[] Texts = ["My name is Alice.", "What is my name?", "Thanks, goodbye."];

    private static readonly ResponseTool ExecCommand = ResponseTool.CreateFunctionTool(
        ToolName,
        BinaryData.FromString("""{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"],"additionalProperties":false}"""),
        true,
        "Runs a shell command and returns what it printed.");

    private ResponsesClient Client => new(new ApiKeyCredential(ProductFixture.ApiKey), new ResponsesClientOptions { Endpoint = new Uri(Product.BaseUrl, "/v1") });

    private static CreateResponseOptions Options(params ResponseItem[] input) => new(Model, input);

    /// <summary>A stored background request whose answer the provider cuts after its fourth event, once.</summary>
    private CreateResponseOptions CutOffInTheBackground(string text)
    {
        var marker = "sdk-cut-" + Guid.NewGuid().ToString("N")[..8];
        Product.Simulator.Faults.Add(Fault.CloseAfter(4).WhenTextContains(marker).Times(1));
        var options = Options(ResponseItem.CreateUserMessageItem(text + " " + marker));
        options.StoredOutputEnabled = true;
        options.BackgroundModeEnabled = true;
        return options;
    }

    private static JsonObject Turn(ResponseResult response) => new() { ["id"] = response.Id, ["text"] = response.GetOutputText() ?? "" };

    protected override async Task<ScenarioResult> RunAsync(string scenario)
    {
        JsonObject result;
        try
        {
            result = scenario switch
            {
                "create" => await CreateAsync(),
                "stream" => await StreamAsync(),
                "tool" => await ToolAsync(),
                "chain" => await ChainAsync(),
                "history" => await HistoryAsync(),
                "structured" => await StructuredAsync(),
                _ => throw new ArgumentOutOfRangeException(nameof(scenario), scenario, null),
            };
            result["ok"] = true;
        }
        catch (Exception ex) when (ex is ClientResultException or JsonException or InvalidOperationException)
        {
            result = new JsonObject { ["ok"] = false, ["error"] = $"{ex.GetType().Name}: {ex.Message}" };
        }
        return new ScenarioResult($"dotnet {scenario}", JsonDocument.Parse(result.ToJsonString()).RootElement.Clone());
    }

    private async Task<JsonObject> CreateAsync()
    {
        ResponseResult response = await Client.CreateResponseAsync(Options(ResponseItem.CreateUserMessageItem("Say hello in exactly 3 words.")));
        return new JsonObject { ["turns"] = new JsonArray(Turn(response)) };
    }

    private async Task<JsonObject> StreamAsync()
    {
        var deltas = "";
        ResponseResult? final = null;
        var options = Options(ResponseItem.CreateUserMessageItem("Count from 1 to 5."));
        options.StreamingEnabled = true;
        await foreach (var update in await Client.CreateResponseStreamingAsync(options))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) deltas += delta.Delta;
            if (update is StreamingResponseCompletedUpdate completed) final = completed.Response;
        }
        if (final is null) throw new InvalidOperationException("the stream ended without response.completed");
        return new JsonObject { ["turns"] = new JsonArray(Turn(final)), ["deltas"] = deltas };
    }

    private async Task<JsonObject> ToolAsync()
    {
        var client = Client;
        var first = Options(ResponseItem.CreateUserMessageItem($"RUN_TOOL: use the {ToolName} tool to run `echo sim-tool-ran`, then tell me what it printed."));
        first.Tools.Add(ExecCommand);
        ResponseResult call = await client.CreateResponseAsync(first);
        var calls = call.OutputItems.OfType<FunctionCallResponseItem>().ToList();
        if (calls.Count == 0) throw new InvalidOperationException("no function_call in the response");
        var second = Options([.. calls.Select(c => ResponseItem.CreateFunctionCallOutputItem(c.CallId, ToolResult))]);
        second.PreviousResponseId = call.Id;
        second.Tools.Add(ExecCommand);
        ResponseResult answer = await client.CreateResponseAsync(second);
        return new JsonObject
        {
            ["turns"] = new JsonArray(Turn(call), Turn(answer)),
            ["calls"] = new JsonArray([.. calls.Select(c => new JsonObject { ["name"] = c.FunctionName, ["arguments"] = c.FunctionArguments.ToString() })]),
        };
    }

    private async Task<JsonObject> ChainAsync()
    {
        var client = Client;
        var turns = new JsonArray();
        string? previous = null;
        foreach (var text in Texts)
        {
            var options = Options(ResponseItem.CreateUserMessageItem(text));
            options.PreviousResponseId = previous;
            ResponseResult response = await client.CreateResponseAsync(options);
            turns.Add(Turn(response));
            previous = response.Id;
        }
        return new JsonObject { ["turns"] = turns };
    }

    private async Task<JsonObject> HistoryAsync()
    {
        var client = Client;
        var turns = new JsonArray();
        var context = new List<ResponseItem>();
        foreach (var text in Texts)
        {
            context.Add(ResponseItem.CreateUserMessageItem(text));
            var options = Options([.. context]);
            options.StoredOutputEnabled = false;
            ResponseResult response = await client.CreateResponseAsync(options);
            turns.Add(Turn(response));
            context.AddRange(response.OutputItems);
        }
        return new JsonObject { ["turns"] = turns };
    }

    private async Task<JsonObject> StructuredAsync()
    {
        var options = Options(ResponseItem.CreateUserMessageItem("Report the weather in Paris as JSON."));
        options.TextOptions = new ResponseTextOptions
        {
            TextFormat = ResponseTextFormat.CreateJsonSchemaFormat("weather", BinaryData.FromString("""
                {"type":"object","properties":{"city":{"type":"string"},"temperature_c":{"type":"integer"},"sunny":{"type":"boolean"}},
                 "required":["city","temperature_c","sunny"],"additionalProperties":false}
                """), null, true),
        };
        ResponseResult response = await Client.CreateResponseAsync(options);
        return new JsonObject { ["turns"] = new JsonArray(Turn(response)), ["parsed"] = JsonNode.Parse(response.GetOutputText()) };
    }

    [Fact]
    public async Task Stored_responses_can_be_retrieved_listed_cancelled_and_deleted()
    {
        var client = Client;
        var stored = Options(ResponseItem.CreateUserMessageItem("Remember this response."));
        stored.StoredOutputEnabled = true;
        ResponseResult created = await client.CreateResponseAsync(stored);

        ResponseResult retrieved = await client.GetResponseAsync(created.Id);
        Assert.Equal(created.Id, retrieved.Id);
        Assert.Equal(created.GetOutputText(), retrieved.GetOutputText());

        var inputItems = new List<ResponseItem>();
        await foreach (var item in client.GetResponseInputItemsAsync(new ResponseItemCollectionOptions(created.Id))) inputItems.Add(item);
        var message = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(inputItems)); // the SDK picks a role-specific subclass
        Assert.Equal("Remember this response.", message.Content.Single().Text);

        var work = Options(ResponseItem.CreateUserMessageItem("Work on this in the background."));
        work.StoredOutputEnabled = true;
        work.BackgroundModeEnabled = true;
        ResponseResult background = await client.CreateResponseAsync(work);
        ResponseResult cancelled = await client.CancelResponseAsync(background.Id);
        Assert.Equal(background.Id, cancelled.Id);
        // A background response may finish before the cancel lands: then cancel returns it completed.
        Assert.Contains(cancelled.Status, new ResponseStatus?[] { ResponseStatus.Cancelled, ResponseStatus.Completed });

        ResponseDeletionResult deleted = await client.DeleteResponseAsync(created.Id);
        Assert.True(deleted.Deleted);
        Assert.Equal(created.Id, deleted.ResponseId);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => client.GetResponseAsync(created.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task A_dropped_background_stream_resumes_with_GetResponseStreamingAsync_at_the_next_event()
    {
        var client = Client;
        var marker = "sdk-replay-" + Guid.NewGuid().ToString("N")[..8];
        Product.Simulator.Faults.Add((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(50)) with { TextDeltas = 20 }).WhenTextContains(marker).Times(1));
        var options = Options(ResponseItem.CreateUserMessageItem("Stream this in the background " + marker));
        options.StoredOutputEnabled = true;
        options.BackgroundModeEnabled = true;
        options.StreamingEnabled = true;

        string? id = null;
        var text = "";
        var first = new List<StreamingResponseUpdate>();
        await foreach (var update in await client.CreateResponseStreamingAsync(options))
        {
            first.Add(update);
            if (update is StreamingResponseCreatedUpdate created) id = created.Response.Id;
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text += delta.Delta;
            if (first.Count == 6) break; // the connection drops
        }
        Assert.NotNull(id);

        var resumed = new List<StreamingResponseUpdate>();
        ResponseResult? final = null;
        await foreach (var update in await client.GetResponseStreamingAsync(new GetResponseOptions(id) { StreamingEnabled = true, StartingAfter = first[^1].SequenceNumber }))
        {
            resumed.Add(update);
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text += delta.Delta;
            if (update is StreamingResponseCompletedUpdate completed) final = completed.Response;
        }
        Assert.Equal(Enumerable.Range(first[^1].SequenceNumber + 1, resumed.Count), resumed.Select(u => u.SequenceNumber));
        Assert.NotNull(final);
        Assert.Equal(id, final.Id);
        Assert.Equal(final.GetOutputText(), text);
        Assert.Single(Product.Simulator.Ledger.Requests, r => r.ResponseId == id); // generated once
    }

    [Fact]
    public async Task A_turn_continuing_a_background_response_cut_off_at_once_succeeds_through_the_sdks_own_retry()
    {
        var client = Client; // the SDK's default retry policy: 5xx and 429 with Retry-After, not 409
        var started = DateTimeOffset.UtcNow;
        var options = CutOffInTheBackground("Answer in the background, cut off");
        ResponseResult created = await client.CreateResponseAsync(options);
        // The provider cut it: pending, and nothing runs it until someone asks for it.
        await Eventually.ValueAsync(() => Product.Simulator.Ledger.Requests.Any(r => r.StartedAt >= started && r.Generate && r.EndedAt is not null) ? "cut" : null);

        // Continued at once, without a poll: the first attempt starts the response's new run and is refused with a 503 the
        // SDK retries; the retry waits behind the new run and continues it.
        var next = Options(ResponseItem.CreateUserMessageItem("And then?"));
        next.PreviousResponseId = created.Id;
        ResponseResult continued = await client.CreateResponseAsync(next);
        Assert.Equal(ResponseStatus.Completed, continued.Status);
        var generations = Product.Simulator.Ledger.Requests.Where(r => r.Generate && r.StartedAt >= started).OrderBy(r => r.Id).ToList();
        Assert.True(generations.Count == 3, $"the cut run, its new run and the continuing turn expected: {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations[2].IsDelta && generations[2].PreviousResponseId == generations[1].ResponseId, LedgerText.Lines(generations, "; "));
        ResponseResult retrieved = await client.GetResponseAsync(created.Id);
        Assert.Equal(ResponseStatus.Completed, retrieved.Status);
    }

    [Fact]
    public async Task A_background_stream_the_provider_cut_off_goes_on_into_its_new_run_and_resumes_by_id_from_the_lost_run()
    {
        var client = Client;
        var started = DateTimeOffset.UtcNow;
        var options = CutOffInTheBackground("Stream this in the background, cut off");
        options.StreamingEnabled = true;

        // The provider's socket closes mid-answer: the response is not over, so its stream goes on with its new run (a
        // second created update, same id) to completed; the SDK never sees it fail.
        var first = new List<StreamingResponseUpdate>();
        await foreach (var update in await client.CreateResponseStreamingAsync(options)) first.Add(update);
        Assert.DoesNotContain(first, u => u is StreamingResponseFailedUpdate);
        var createdAt = first.Select((u, i) => (u, i)).Where(p => p.u is StreamingResponseCreatedUpdate).Select(p => p.i).ToList();
        Assert.Equal(2, createdAt.Count);
        var id = ((StreamingResponseCreatedUpdate)first[0]).Response.Id;
        Assert.Equal(id, ((StreamingResponseCreatedUpdate)first[createdAt[1]]).Response.Id);
        Assert.Equal(id, Assert.IsType<StreamingResponseCompletedUpdate>(first[^1]).Response.Id);
        var lostRun = first[createdAt[1] - 1]; // the last event of the cut run: where a client whose connection broke there resumes

        // Streamed again from the last event the client has: the response's new run, from its own created event.
        var resumed = new List<StreamingResponseUpdate>();
        var text = "";
        ResponseResult? final = null;
        await foreach (var update in await client.GetResponseStreamingAsync(new GetResponseOptions(id) { StreamingEnabled = true, StartingAfter = lostRun.SequenceNumber }))
        {
            resumed.Add(update);
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text += delta.Delta;
            if (update is StreamingResponseCompletedUpdate completed) final = completed.Response;
        }
        Assert.IsType<StreamingResponseCreatedUpdate>(resumed[0]);
        Assert.Equal(first[createdAt[1]].SequenceNumber, resumed[0].SequenceNumber);
        Assert.NotNull(final);
        Assert.Equal(id, final.Id);
        Assert.Equal(final.GetOutputText(), text);
        var generations = Product.Simulator.Ledger.Requests.Where(r => r.Generate && r.StartedAt >= started).ToList();
        Assert.True(generations.Count == 2, $"the cut run and its new run expected: {LedgerText.Lines(generations, "; ")}");
    }
}
