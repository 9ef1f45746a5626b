using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Tests.Infrastructure;

/// <summary>Builders for Responses API bodies and items, shaped like the Codex CLI's.</summary>
public static class Items
{
    public static JsonNode Message(string role, string text) => new JsonObject
    {
        ["type"] = "message",
        ["role"] = role,
        ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = text }),
    };

    public static JsonNode FunctionOutput(string callId, string output) =>
        new JsonObject { ["type"] = "function_call_output", ["call_id"] = callId, ["output"] = output };

    /// <summary>A create body; extra settings (model, tools…) are Codex-like and unchanged between turns.</summary>
    public static JsonObject Body(IEnumerable<JsonNode> input, bool stream = true, string? previousResponseId = null, string? cacheKey = null)
    {
        var body = new JsonObject
        {
            ["model"] = "gpt-5.5",
            ["stream"] = stream,
            ["input"] = new JsonArray([.. input.Select(i => i.DeepClone())]),
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "exec_command", ["parameters"] = new JsonObject() }),
            ["tool_choice"] = "auto",
            ["store"] = false,
            ["include"] = new JsonArray("reasoning.encrypted_content"),
        };
        if (previousResponseId is not null) body["previous_response_id"] = previousResponseId;
        if (cacheKey is not null) body["prompt_cache_key"] = cacheKey;
        return body;
    }

    public static JsonNode ToNode(this JsonElement element) => JsonNode.Parse(element.GetRawText())!;

    public static Dictionary<string, string> Session(string threadId) => new() { ["thread-id"] = threadId, ["session-id"] = threadId };
}
