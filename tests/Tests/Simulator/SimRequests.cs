using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Simulator;

/// <summary>Builders for response.create frames and HTTP create bodies.</summary>
internal static class SimRequests
{
    public static JsonObject User(string text) => Message("user", text, "input_text");

    public static JsonObject Developer(string text) => Message("developer", text, "input_text");

    public static JsonObject ToolOutput(string callId, string output) => new()
    {
        ["type"] = "function_call_output",
        ["call_id"] = callId,
        ["output"] = output,
    };

    /// <summary>A websocket frame: {"type":"response.create", ...}.</summary>
    public static string Create(IEnumerable<JsonNode> input, string? previousResponseId = null, bool? generate = null) =>
        Body(input, previousResponseId, generate, stream: null, frameType: "response.create");

    /// <summary>An HTTP create body.</summary>
    public static string HttpBody(IEnumerable<JsonNode> input, bool stream, string? previousResponseId = null) =>
        Body(input, previousResponseId, generate: null, stream, frameType: null);

    public static int Tokens(JsonNode item) => TokenCounter.Count(item.ToJsonString());

    public static int Tokens(IEnumerable<JsonNode> items) => items.Sum(Tokens);

    private static string Body(IEnumerable<JsonNode> input, string? previousResponseId, bool? generate, bool? stream, string? frameType)
    {
        var body = new JsonObject();
        if (frameType is not null)
        {
            body["type"] = frameType;
        }

        body["model"] = "gpt-5.5";
        if (stream is not null)
        {
            body["stream"] = stream;
        }

        if (previousResponseId is not null)
        {
            body["previous_response_id"] = previousResponseId;
        }

        body["input"] = new JsonArray(input.Select(i => i.DeepClone()).ToArray());
        body["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "exec_command" });
        body["store"] = false;
        if (generate is not null)
        {
            body["generate"] = generate;
        }

        return body.ToJsonString();
    }

    private static JsonObject Message(string role, string text, string partType) => new()
    {
        ["type"] = "message",
        ["role"] = role,
        ["content"] = new JsonArray(new JsonObject { ["type"] = partType, ["text"] = text }),
    };
}
