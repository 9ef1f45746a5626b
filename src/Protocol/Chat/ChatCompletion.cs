using System.Buffers;
using System.Text;
using System.Text.Json;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// A finished Responses response as a <c>chat.completion</c>, and the pieces the streamed form shares with it (id,
/// finish reason, usage). Only messages and function calls reach the chat client: reasoning and any other item the
/// provider returns stay in the bridge's response tree.
/// </summary>
public static class ChatCompletion
{
    /// <summary><c>chatcmpl-…</c> from the response id, so a chat answer can be traced to the response that made it.</summary>
    public static string Id(string? responseId) =>
        "chatcmpl-" + (responseId is null ? "unknown" : responseId.StartsWith("resp_", StringComparison.Ordinal) ? responseId[5..] : responseId);

    /// <param name="terminal">The data of a <c>response.completed</c> or <c>response.incomplete</c> event.</param>
    public static byte[] Build(ReadOnlySpan<byte> terminal)
    {
        var reader = new Utf8JsonReader(terminal, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        var response = document.RootElement.GetProperty("response");
        var (text, refusal, calls) = Read(response);

        var buffer = new ArrayBufferWriter<byte>(512 + (text?.Length ?? 0) * 2);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Id(StringOf(response, "id")));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", CreatedOf(response));
            WriteNullable(w, "model", StringOf(response, "model"));
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            // Tool calls or a refusal alone come with content null, as OpenAI answers them.
            WriteNullable(w, "content", text ?? (calls.Count > 0 || refusal is not null ? null : ""));
            WriteNullable(w, "refusal", refusal);
            if (calls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call in calls) WriteToolCall(w, call);
                w.WriteEndArray();
            }
            w.WriteStartArray("annotations");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", FinishReason(response, calls.Count > 0));
            w.WriteEndObject();
            w.WriteEndArray();
            WriteUsage(w, response);
            if (StringOf(response, "service_tier") is { } tier) w.WriteString("service_tier", tier);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One function call of the output: <c>call_id</c>, name, arguments.</summary>
    public sealed record ToolCall(string Id, string Name, string Arguments);

    private static (string? Text, string? Refusal, List<ToolCall> Calls) Read(JsonElement response)
    {
        StringBuilder? text = null, refusal = null;
        var calls = new List<ToolCall>();
        if (!response.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.Array) return (null, null, calls);
        foreach (var item in output.EnumerateArray())
        {
            switch (StringOf(item, "type"))
            {
                case "message":
                    if (!item.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array) break;
                    foreach (var part in content.EnumerateArray())
                    {
                        if (StringOf(part, "type") == "output_text") (text ??= new()).Append(StringOf(part, "text"));
                        else if (StringOf(part, "type") == "refusal") (refusal ??= new()).Append(StringOf(part, "refusal"));
                    }
                    break;
                case "function_call" when CallOf(item) is { } call:
                    calls.Add(call);
                    break;
            }
        }
        return (text?.ToString(), refusal?.ToString(), calls);
    }

    /// <summary>A function_call output item as a tool call, or null when it lacks its id or name.</summary>
    public static ToolCall? CallOf(JsonElement item) =>
        StringOf(item, "call_id") is { } id && StringOf(item, "name") is { } name ? new ToolCall(id, name, StringOf(item, "arguments") ?? "") : null;

    private static void WriteToolCall(Utf8JsonWriter w, ToolCall call)
    {
        w.WriteStartObject();
        w.WriteString("id", call.Id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>length for a response cut short by its token limit, content_filter for a filtered one, else tool_calls or stop.</summary>
    public static string FinishReason(JsonElement response, bool toolCalls)
    {
        if (StringOf(response, "status") != "incomplete") return toolCalls ? "tool_calls" : "stop";
        var reason = response.TryGetProperty("incomplete_details", out var details) && details.ValueKind == JsonValueKind.Object
            ? StringOf(details, "reason") : null;
        return reason == "content_filter" ? "content_filter" : "length";
    }

    /// <summary>The chat <c>usage</c> object from the response's (null when the provider sent none).</summary>
    public static void WriteUsage(Utf8JsonWriter w, JsonElement response)
    {
        if (response.ValueKind != JsonValueKind.Object || !response.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            w.WriteNull("usage");
            return;
        }
        var input = NumberOf(usage, "input_tokens");
        var output = NumberOf(usage, "output_tokens");
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", input);
        w.WriteNumber("completion_tokens", output);
        w.WriteNumber("total_tokens", usage.TryGetProperty("total_tokens", out var total) && total.ValueKind == JsonValueKind.Number && total.TryGetInt64(out var sum) ? sum : input + output);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.TryGetProperty("input_tokens_details", out var inDetails) ? NumberOf(inDetails, "cached_tokens") : 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", usage.TryGetProperty("output_tokens_details", out var outDetails) ? NumberOf(outDetails, "reasoning_tokens") : 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary><c>created_at</c> of the response (unix seconds), or now when the provider left it out.</summary>
    public static long CreatedOf(JsonElement response) =>
        response.TryGetProperty("created_at", out var created) && created.ValueKind == JsonValueKind.Number && created.TryGetInt64(out var seconds) ? seconds : DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string? StringOf(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long NumberOf(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : 0;

    public static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
