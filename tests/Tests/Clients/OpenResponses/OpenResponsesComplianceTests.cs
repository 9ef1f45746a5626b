using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Clients.OpenResponses;

/// <summary>
/// The seven OpenResponses compliance cases, run through the bridge: their requests verbatim (model aside) and their
/// validators. Ported from github.com/openresponses/openresponses, src/lib/compliance-tests.ts (testTemplates,
/// runTest: POST {base}/responses with stream set, the response object parsed with responseResourceSchema first, then
/// the case's validators) and src/lib/sse-parser.ts (every event checked against the streaming event schemas, the
/// final response taken from the terminal event); the schemas are in <see cref="OpenResponsesSchema"/>. On top of the
/// suite: the request reached the provider once, with all its input items.
/// </summary>
public sealed class OpenResponsesComplianceTests(ProductFixture product) : IClassFixture<ProductFixture>
{
    private const string Model = "gpt-5.5";

    private delegate IEnumerable<string> Validator(JsonElement response, IReadOnlyList<SseEvent>? events);

    private sealed record Case(string Request, bool Streaming, params Validator[] Validators);

    private const string WeatherTool = """
        {"type":"function","name":"get_weather","description":"Get the current weather for a location",
         "parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}
        """;

    // A red heart icon on a white background (the suite's own image).
    private const string HeartPng = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAABmklEQVR42tyWAaTyUBzFew/eG4AHz+MBSAHKBiJRGFKwIgQQJKLUIioBIhCAiCAAEizAQIAECaASqFFJq84nudjnaqvuPnxzgP9xfrq5938csPn7PwHTKSoViCIEAYEAMhmoKsU2mUCWEQqB5xEMIp/HaGQG2G6RSuH9HQ7H34rFrtPbdz4jl6PbwmEsl3QA1mt4vcRKk8dz9eg6IpF7tt9fzGY0gCgafFRFo5Blc5vLhf3eCOj1yNhM5GRMVK0aATxPZoz09YXjkQDmczJgquGQAPp9WwCNBgG027YACgUC6HRsAZRKBDAY2AJoNv/ZnwzA6WScznG3p4UAymXGAEkyXrTFAh8fLAGqagQAyGaZpYsi7bHTNPz8MEj//LxuFPo+UBS8vb0KaLXubrRa7aX0RMLCykwmn0z3+XA4WACcTpCkh9MFAZpmuVXo+mO/w+/HZvNgbblcUCxaSo/Hyck80Yu6XXDcvfVZr79cvMZjuN2U9O9vKAqjZrfbIZ0mV4TUi9Xqz6jddNy//7+e3n8Fhf/Llo2kxi8AQyGRoDkmAhAAAAAASUVORK5CYII=";

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["basic-response"] = new("""
            {"input":[{"type":"message","role":"user","content":"Say hello in exactly 3 words."}]}
            """, false, HasOutput, CompletedStatus),
        ["streaming-response"] = new("""
            {"input":[{"type":"message","role":"user","content":"Count from 1 to 5."}]}
            """, true, StreamingEvents, StreamingSchema, CompletedStatus),
        ["system-prompt"] = new("""
            {"input":[{"type":"message","role":"system","content":"You are a pirate. Always respond in pirate speak."},
                      {"type":"message","role":"user","content":"Say hello."}]}
            """, false, HasOutput, CompletedStatus),
        ["tool-calling"] = new($$"""
            {"input":[{"type":"message","role":"user","content":"What's the weather like in San Francisco?"}],"tools":[{{WeatherTool}}]}
            """, false, HasOutput, HasOutputType("function_call")),
        ["tool-calling-streaming"] = new($$"""
            {"input":[{"type":"message","role":"user","content":"What's the weather like in San Francisco?"}],"tools":[{{WeatherTool}}]}
            """, true, StreamingEvents, StreamingSchema, FunctionCallStreamingEvents),
        ["image-input"] = new($$"""
            {"input":[{"type":"message","role":"user","content":[
                {"type":"input_text","text":"What do you see in this image? Answer in one sentence."},
                {"type":"input_image","image_url":"{{HeartPng}}"}]}]}
            """, false, HasOutput, CompletedStatus),
        ["multi-turn"] = new("""
            {"input":[{"type":"message","role":"user","content":"My name is Alice."},
                      {"type":"message","role":"assistant","content":"Hello Alice! Nice to meet you. How can I help you today?"},
                      {"type":"message","role":"user","content":"What is my name?"}]}
            """, false, HasOutput, CompletedStatus),
    };

    [Theory]
    [InlineData("basic-response")]
    [InlineData("streaming-response")]
    [InlineData("system-prompt")]
    [InlineData("tool-calling")]
    [InlineData("tool-calling-streaming")]
    [InlineData("image-input")]
    [InlineData("multi-turn")]
    public async Task Compliance_case_passes_through_the_bridge(string id)
    {
        var template = Cases[id];
        var request = JsonNode.Parse(template.Request)!.AsObject();
        request["model"] = Model;
        request["stream"] = template.Streaming;
        var result = await SseClient.PostAsync(product.Http, "/v1/responses", request.ToJsonString());
        Assert.True(result.Status == HttpStatusCode.OK, $"HTTP {(int)result.Status}: {result.RawBody}");

        var errors = new List<string>();
        JsonElement response;
        IReadOnlyList<SseEvent>? events = null;
        if (template.Streaming)
        {
            events = result.Events;
            foreach (var e in events)
                if (OpenResponsesSchema.StreamingEvent(e.Data) is { Count: > 0 } issues)
                    errors.Add($"Event validation failed for {e.Type}: {string.Join("; ", issues)}");
            Assert.True(result.Terminal is not null, $"no terminal event among {string.Join(", ", events.Select(e => e.Type))}");
            response = result.Terminal!.Data.GetProperty("response");
        }
        else
        {
            response = result.Json;
        }
        errors.AddRange(OpenResponsesSchema.Response(response));
        // The suite runs the validators only on a response that passed the schema; the checks below stand alone, so run both.
        errors.AddRange(template.Validators.SelectMany(v => v(response, events)));
        Assert.True(errors.Count == 0, $"{id}: {errors.Count} errors:\n{string.Join("\n", errors)}");

        var upstream = product.Simulator.Ledger.Request(response.GetProperty("id").GetString()!);
        Assert.Equal(RequestOutcome.Completed, upstream.Outcome);
        Assert.Equal(request["input"]!.AsArray().Count, upstream.InputItemCount);
    }

    private static IEnumerable<string> HasOutput(JsonElement response, IReadOnlyList<SseEvent>? events)
    {
        if (!response.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.Array || output.GetArrayLength() == 0)
            yield return "Response has no output items";
    }

    private static Validator HasOutputType(string type) => (response, _) =>
        response.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Array
        && output.EnumerateArray().Any(i => i.TryGetProperty("type", out var t) && t.GetString() == type)
            ? []
            : [$"Expected output item of type \"{type}\" but none found"];

    private static IEnumerable<string> CompletedStatus(JsonElement response, IReadOnlyList<SseEvent>? events)
    {
        var status = response.TryGetProperty("status", out var s) ? s.ToString() : "undefined";
        if (status != "completed") yield return $"Expected status \"completed\" but got \"{status}\"";
    }

    private static IEnumerable<string> StreamingEvents(JsonElement response, IReadOnlyList<SseEvent>? events)
    {
        if (events is not { Count: > 0 }) yield return "No streaming events received";
    }

    /// <summary>The suite's streamingSchema validator returns the parser's per-event errors, collected above; nothing more to add.</summary>
    private static IEnumerable<string> StreamingSchema(JsonElement response, IReadOnlyList<SseEvent>? events) => [];

    private static IEnumerable<string> FunctionCallStreamingEvents(JsonElement response, IReadOnlyList<SseEvent>? events)
    {
        if (events is null) yield break;
        bool ItemEvent(SseEvent e, string type) => e.Data.TryGetProperty("type", out var t) && t.GetString() == type
            && e.Data.TryGetProperty("item", out var item) && item.ValueKind == JsonValueKind.Object
            && item.TryGetProperty("type", out var itemType) && itemType.GetString() == "function_call";
        var types = events.Select(e => e.Data.TryGetProperty("type", out var t) ? t.GetString() : null).ToList();
        if (!events.Any(e => ItemEvent(e, "response.output_item.added"))) yield return "Missing response.output_item.added event with function_call item";
        if (!types.Contains("response.function_call_arguments.delta")) yield return "Missing response.function_call_arguments.delta event";
        if (!types.Contains("response.function_call_arguments.done")) yield return "Missing response.function_call_arguments.done event";
        if (!events.Any(e => ItemEvent(e, "response.output_item.done"))) yield return "Missing response.output_item.done event with function_call item";
    }
}
