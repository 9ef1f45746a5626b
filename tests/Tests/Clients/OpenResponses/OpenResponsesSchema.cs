using System.Text.Json;

namespace CodexLb.Tests.Clients.OpenResponses;

/// <summary>
/// The schema checks the OpenResponses compliance suite runs with zod, ported: the response object
/// (src/generated/kubb/zod/responseResourceSchema.ts and the item, content and usage schemas it references) and every
/// streaming event (src/lib/sse-parser.ts's union of event schemas; field lists in schema/events.tsp) of
/// github.com/openresponses/openresponses. Each check returns zod-like issues: "path: message"; none = valid.
/// zod semantics kept: a nullable field must still be present, an enum-with-default may be absent, <c>int</c> means an
/// integral number, an event whose type is in no schema of the union is invalid.
/// </summary>
public static class OpenResponsesSchema
{
    private static readonly string[] ItemStatuses = ["in_progress", "completed", "incomplete"];
    private static readonly string[] Roles = ["user", "assistant", "system", "developer"];
    private static readonly string[] ContentPartTypes =
        ["input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal", "input_image", "input_file", "input_video"];

    public static List<string> Response(JsonElement response)
    {
        var c = new Checker();
        c.Response("", response);
        return c.Issues;
    }

    public static List<string> StreamingEvent(JsonElement data)
    {
        var c = new Checker();
        c.Event(data);
        return c.Issues;
    }

    private sealed class Checker
    {
        public List<string> Issues { get; } = [];

        private void Issue(string path, string message) => Issues.Add($"{(path.Length == 0 ? "root" : path)}: {message}");

        private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

        private static bool Get(JsonElement obj, string name, out JsonElement value)
        {
            if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out value)) return true;
            value = default;
            return false;
        }

        private void Kind(JsonElement obj, string path, string name, string expected, bool nullable = false, bool optional = false)
        {
            if (!Get(obj, name, out var value))
            {
                if (!optional) Issue(Join(path, name), $"Invalid input: expected {expected}{(nullable ? " or null" : "")}, received undefined");
                return;
            }
            if (nullable && value.ValueKind == JsonValueKind.Null) return;
            var ok = expected switch
            {
                "string" => value.ValueKind == JsonValueKind.String,
                "number" => value.ValueKind == JsonValueKind.Number,
                "int" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
                "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
                "array" => value.ValueKind == JsonValueKind.Array,
                "object" => value.ValueKind == JsonValueKind.Object,
                _ => throw new ArgumentOutOfRangeException(nameof(expected)),
            };
            if (!ok) Issue(Join(path, name), $"Invalid input: expected {expected}{(nullable ? " or null" : "")}, received {value.ValueKind}");
        }

        /// <summary>A literal type with a zod default: absent is fine, anything else must be one of the values.</summary>
        private void Enum(JsonElement obj, string path, string name, string[] values, bool optional = false)
        {
            if (!Get(obj, name, out var value))
            {
                if (!optional) Issue(Join(path, name), $"Invalid option: expected one of {string.Join("|", values)}");
                return;
            }
            if (value.ValueKind != JsonValueKind.String || !values.Contains(value.GetString()))
                Issue(Join(path, name), $"Invalid option: expected one of {string.Join("|", values)}, received {value}");
        }

        private void Each(JsonElement obj, string path, string name, Action<string, JsonElement> check)
        {
            if (!Get(obj, name, out var array) || array.ValueKind != JsonValueKind.Array) return;
            var i = 0;
            foreach (var element in array.EnumerateArray()) check($"{Join(path, name)}.{i++}", element);
        }

        public void Response(string path, JsonElement r)
        {
            if (r.ValueKind != JsonValueKind.Object) { Issue(path, $"Invalid input: expected object, received {r.ValueKind}"); return; }
            Kind(r, path, "id", "string");
            Enum(r, path, "object", ["response"], optional: true);
            Kind(r, path, "created_at", "int");
            Kind(r, path, "completed_at", "int", nullable: true);
            Kind(r, path, "status", "string");
            Kind(r, path, "incomplete_details", "object", nullable: true);
            Kind(r, path, "model", "string");
            Kind(r, path, "previous_response_id", "string", nullable: true);
            Kind(r, path, "instructions", "string", nullable: true);
            Kind(r, path, "output", "array");
            Each(r, path, "output", Item);
            Kind(r, path, "error", "object", nullable: true);
            Kind(r, path, "tools", "array");
            Each(r, path, "tools", Tool);
            ToolChoice(r, path);
            Enum(r, path, "truncation", ["auto", "disabled"]);
            Kind(r, path, "parallel_tool_calls", "boolean");
            Kind(r, path, "text", "object");
            if (Get(r, "text", out var text) && text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var format))
                Kind(format, Join(Join(path, "text"), "format"), "type", "string");
            Kind(r, path, "top_p", "number");
            Kind(r, path, "presence_penalty", "number");
            Kind(r, path, "frequency_penalty", "number");
            Kind(r, path, "top_logprobs", "int");
            Kind(r, path, "temperature", "number");
            Kind(r, path, "reasoning", "object", nullable: true);
            Kind(r, path, "usage", "object", nullable: true);
            if (Get(r, "usage", out var usage) && usage.ValueKind == JsonValueKind.Object) Usage(Join(path, "usage"), usage);
            Kind(r, path, "max_output_tokens", "int", nullable: true);
            Kind(r, path, "max_tool_calls", "int", nullable: true);
            Kind(r, path, "store", "boolean");
            Kind(r, path, "background", "boolean");
            Kind(r, path, "service_tier", "string");
            Kind(r, path, "safety_identifier", "string", nullable: true);
            Kind(r, path, "prompt_cache_key", "string", nullable: true);
            Kind(r, path, "context_edits", "array", optional: true);
        }

        private void Usage(string path, JsonElement u)
        {
            Kind(u, path, "input_tokens", "int");
            Kind(u, path, "output_tokens", "int");
            Kind(u, path, "total_tokens", "int");
            Kind(u, path, "input_tokens_details", "object");
            Kind(u, path, "output_tokens_details", "object");
            if (Get(u, "input_tokens_details", out var input)) Kind(input, Join(path, "input_tokens_details"), "cached_tokens", "int");
            if (Get(u, "output_tokens_details", out var output)) Kind(output, Join(path, "output_tokens_details"), "reasoning_tokens", "int");
        }

        private void Tool(string path, JsonElement tool)
        {
            Kind(tool, path, "type", "string");
            if (tool.TryGetProperty("type", out var type) && type.GetString() == "function") Kind(tool, path, "name", "string");
        }

        private void ToolChoice(JsonElement r, string path)
        {
            if (!Get(r, "tool_choice", out var choice)) { Issue(Join(path, "tool_choice"), "Invalid input: received undefined"); return; }
            if (choice.ValueKind == JsonValueKind.String)
            {
                if (choice.GetString() is not ("none" or "auto" or "required")) Issue(Join(path, "tool_choice"), $"Invalid option: {choice}");
                return;
            }
            Kind(r, path, "tool_choice", "object");
            if (choice.ValueKind == JsonValueKind.Object) Kind(choice, Join(path, "tool_choice"), "type", "string");
        }

        /// <summary>itemFieldSchema: message, function_call, function_call_output, file_search_call, web_search_call, reasoning.</summary>
        public void Item(string path, JsonElement item)
        {
            if (item.ValueKind != JsonValueKind.Object) { Issue(path, $"Invalid input: expected object, received {item.ValueKind}"); return; }
            var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            switch (type)
            {
                case "message":
                    Kind(item, path, "id", "string");
                    Enum(item, path, "status", ItemStatuses);
                    Enum(item, path, "role", Roles);
                    Kind(item, path, "content", "array");
                    Each(item, path, "content", ContentPart);
                    break;
                case "function_call":
                    Kind(item, path, "id", "string");
                    Kind(item, path, "call_id", "string");
                    Kind(item, path, "name", "string");
                    Kind(item, path, "arguments", "string");
                    Enum(item, path, "status", ItemStatuses);
                    break;
                case "function_call_output":
                    Kind(item, path, "id", "string");
                    Kind(item, path, "call_id", "string");
                    break;
                case "file_search_call" or "web_search_call":
                    Kind(item, path, "id", "string");
                    break;
                case "reasoning":
                    Kind(item, path, "id", "string");
                    Kind(item, path, "summary", "array");
                    Each(item, path, "summary", ContentPart);
                    Kind(item, path, "content", "array", optional: true);
                    Each(item, path, "content", ContentPart);
                    Kind(item, path, "encrypted_content", "string", optional: true);
                    break;
                default:
                    Issue(path, $"Invalid input: no item schema matches type '{type}'");
                    break;
            }
        }

        private void ContentPart(string path, JsonElement part)
        {
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type is null || !ContentPartTypes.Contains(type)) { Issue(path, $"Invalid input: no content part schema matches type '{type}'"); return; }
            switch (type)
            {
                case "output_text":
                    Kind(part, path, "text", "string");
                    Kind(part, path, "annotations", "array");
                    Kind(part, path, "logprobs", "array");
                    break;
                case "input_text" or "text" or "summary_text" or "reasoning_text":
                    Kind(part, path, "text", "string");
                    break;
                case "refusal":
                    Kind(part, path, "refusal", "string");
                    break;
            }
        }

        public void Event(JsonElement e)
        {
            var type = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) ? t.GetString() : null;
            Kind(e, "", "sequence_number", "int");
            switch (type)
            {
                case "response.created" or "response.queued" or "response.in_progress" or "response.completed" or "response.failed" or "response.incomplete":
                    if (e.TryGetProperty("response", out var response)) Response("response", response);
                    else Issue("response", "Invalid input: expected object, received undefined");
                    break;
                case "response.output_item.added" or "response.output_item.done":
                    Kind(e, "", "output_index", "int");
                    if (!e.TryGetProperty("item", out var item)) Issue("item", "Invalid input: received undefined");
                    else if (item.ValueKind != JsonValueKind.Null) Item("item", item);
                    break;
                case "response.content_part.added" or "response.content_part.done":
                    Located(e, "content_index");
                    if (e.TryGetProperty("part", out var part)) ContentPart("part", part);
                    else Issue("part", "Invalid input: received undefined");
                    break;
                case "response.reasoning_summary_part.added" or "response.reasoning_summary_part.done":
                    Located(e, "summary_index");
                    if (e.TryGetProperty("part", out var summaryPart)) ContentPart("part", summaryPart);
                    else Issue("part", "Invalid input: received undefined");
                    break;
                case "response.output_text.delta":
                    Located(e, "content_index");
                    Kind(e, "", "delta", "string");
                    Kind(e, "", "logprobs", "array");
                    break;
                case "response.output_text.done":
                    Located(e, "content_index");
                    Kind(e, "", "text", "string");
                    Kind(e, "", "logprobs", "array");
                    break;
                case "response.refusal.delta" or "response.reasoning.delta":
                    Located(e, "content_index");
                    Kind(e, "", "delta", "string");
                    break;
                case "response.refusal.done":
                    Located(e, "content_index");
                    Kind(e, "", "refusal", "string");
                    break;
                case "response.reasoning.done":
                    Located(e, "content_index");
                    Kind(e, "", "text", "string");
                    break;
                case "response.reasoning_summary_text.delta":
                    Located(e, "summary_index");
                    Kind(e, "", "delta", "string");
                    break;
                case "response.reasoning_summary_text.done":
                    Located(e, "summary_index");
                    Kind(e, "", "text", "string");
                    break;
                case "response.output_text.annotation.added":
                    Located(e, "content_index");
                    Kind(e, "", "annotation_index", "int");
                    Kind(e, "", "annotation", "object", nullable: true);
                    break;
                case "response.function_call_arguments.delta":
                    Kind(e, "", "item_id", "string");
                    Kind(e, "", "output_index", "int");
                    Kind(e, "", "delta", "string");
                    break;
                case "response.function_call_arguments.done":
                    Kind(e, "", "item_id", "string");
                    Kind(e, "", "output_index", "int");
                    Kind(e, "", "arguments", "string");
                    break;
                case "error":
                    Kind(e, "", "error", "object");
                    if (e.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                    {
                        Kind(error, "error", "type", "string");
                        Kind(error, "error", "code", "string", nullable: true);
                        Kind(error, "error", "message", "string");
                        Kind(error, "error", "param", "string", nullable: true);
                    }
                    break;
                default:
                    Issue("type", $"Invalid input: no streaming event schema matches '{type}'");
                    break;
            }
        }

        private void Located(JsonElement e, string index)
        {
            Kind(e, "", "item_id", "string");
            Kind(e, "", "output_index", "int");
            Kind(e, "", index, "int");
        }
    }
}
