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

    /// <summary>
    /// Adds the Codex CLI's <c>client_metadata</c> (thread, window and turn ids). It writes the object's properties in
    /// another order on each attempt of the same turn (a hash map's order; captured with codex 0.169): odd attempts
    /// reverse it.
    /// </summary>
    public static JsonObject WithClientMetadata(this JsonObject body, string thread, string turn, int attempt = 0)
    {
        (string Name, string Value)[] entries = [("thread_id", thread), ("x-codex-window-id", thread + ":0"), ("turn_id", turn), ("root_turn_id", turn)];
        if (attempt % 2 == 1) Array.Reverse(entries);
        var metadata = new JsonObject();
        foreach (var (name, value) in entries) metadata[name] = value;
        body["client_metadata"] = metadata;
        return body;
    }

    public static JsonNode ToNode(this JsonElement element) => JsonNode.Parse(element.GetRawText())!;

    public static Dictionary<string, string> Session(string threadId) => new() { ["thread-id"] = threadId, ["session-id"] = threadId };
}
