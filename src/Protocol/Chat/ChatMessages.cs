using System.Buffers;
using System.Text;
using System.Text.Json;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// Chat <c>messages</c> as Responses input items. An assistant message becomes exactly the items the provider returned
/// for that turn (a message with <c>output_text</c> parts, then one <c>function_call</c> per tool call), so that a chat
/// client resending its history has the fingerprints of what the bridge stored: it is found by content and trimmed.
/// </summary>
internal static class ChatMessages
{
    public static byte[][] Translate(JsonElement messages)
    {
        ChatJson.Array(messages, "messages");
        var items = new List<byte[]>(messages.GetArrayLength() + 4);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using var writer = new Utf8JsonWriter(buffer);
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages[{index++}]";
            ChatJson.Object(message, path);
            var role = ChatJson.RequiredString(message, "role", path);
            switch (role)
            {
                case "system" or "developer" or "user":
                    Add(items, buffer, writer, w => WriteInputMessage(w, role, message, path));
                    break;
                case "assistant":
                    AddAssistant(items, buffer, writer, message, path);
                    break;
                case "tool":
                    Add(items, buffer, writer, w => WriteToolOutput(w, message, path));
                    break;
                case "function":
                    throw ChatRequestException.Invalid($"'{path}.role' 'function' is deprecated and not supported; use 'tool' messages with 'tool_calls'.", $"{path}.role");
                default:
                    throw ChatRequestException.Invalid($"'{path}.role' must be one of system, developer, user, assistant, tool.", $"{path}.role");
            }
        }
        return [.. items];
    }

    private static void Add(List<byte[]> items, ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer, Action<Utf8JsonWriter> write)
    {
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        write(writer);
        writer.Flush();
        items.Add(buffer.WrittenSpan.ToArray());
    }

    private static void WriteInputMessage(Utf8JsonWriter w, string role, JsonElement message, string path)
    {
        w.WriteStartObject();
        w.WriteString("type", "message");
        w.WriteString("role", role);
        w.WriteStartArray("content");
        var content = ChatJson.Get(message, "content")
            ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.content'.", $"{path}.content");
        if (content.ValueKind == JsonValueKind.String) WriteText(w, "input_text", content.GetString()!);
        else
        {
            var at = 0;
            foreach (var part in ChatJson.Array(content, $"{path}.content").EnumerateArray())
                WriteInputPart(w, part, role == "user", $"{path}.content[{at++}]");
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteInputPart(Utf8JsonWriter w, JsonElement part, bool user, string path)
    {
        ChatJson.Object(part, path);
        var type = ChatJson.RequiredString(part, "type", path);
        switch (type)
        {
            case "text":
                WriteText(w, "input_text", ChatJson.RequiredString(part, "text", path));
                return;
            case "image_url" when user:
                WriteImage(w, part, path);
                return;
            case "file" when user:
                WriteFile(w, part, path);
                return;
            case "input_audio":
                throw ChatRequestException.Invalid($"'{path}': audio input is not supported by this bridge.", $"{path}.type");
            default:
                throw ChatRequestException.Invalid($"'{path}.type' '{type}' is not supported here; use " + (user ? "text, image_url or file." : "text."), $"{path}.type");
        }
    }

    private static void WriteImage(Utf8JsonWriter w, JsonElement part, string path)
    {
        var image = ChatJson.Get(part, "image_url")
            ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.image_url'.", $"{path}.image_url");
        // {"url":…,"detail":…}; a bare string is the url.
        var url = image.ValueKind == JsonValueKind.String ? image.GetString()! : ChatJson.RequiredString(ChatJson.Object(image, $"{path}.image_url"), "url", $"{path}.image_url");
        var detail = image.ValueKind == JsonValueKind.Object ? ChatJson.String(image, "detail", $"{path}.image_url") : null;
        w.WriteStartObject();
        w.WriteString("type", "input_image");
        w.WriteString("image_url", url);
        w.WriteString("detail", detail ?? "auto");
        w.WriteEndObject();
    }

    private static void WriteFile(Utf8JsonWriter w, JsonElement part, string path)
    {
        var file = ChatJson.Object(ChatJson.Get(part, "file")
            ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.file'.", $"{path}.file"), $"{path}.file");
        w.WriteStartObject();
        w.WriteString("type", "input_file");
        foreach (var name in (string[])["file_id", "file_data", "filename"])
            if (ChatJson.String(file, name, $"{path}.file") is { } value) w.WriteString(name, value);
        w.WriteEndObject();
    }

    private static void WriteText(Utf8JsonWriter w, string type, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    /// <summary>The assistant's message (when it has text or a refusal), then its tool calls: the order the provider emits them.</summary>
    private static void AddAssistant(List<byte[]> items, ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer, JsonElement message, string path)
    {
        if (ChatJson.Get(message, "audio") is not null)
            throw ChatRequestException.Invalid($"'{path}.audio' is not supported by this bridge.", $"{path}.audio");
        if (ChatJson.Get(message, "function_call") is not null)
            throw ChatRequestException.Invalid($"'{path}.function_call' is deprecated and not supported; use 'tool_calls'.", $"{path}.function_call");
        var content = ChatJson.Get(message, "content");
        var refusal = ChatJson.String(message, "refusal", path);
        var toolCalls = ChatJson.Get(message, "tool_calls") is { } calls ? ChatJson.Array(calls, $"{path}.tool_calls") : (JsonElement?)null;
        var hasCalls = toolCalls?.GetArrayLength() > 0;
        // Tool calls alone come back as content null (or ""): there was no message item then.
        var hasText = content is { ValueKind: JsonValueKind.String } text ? text.GetString()!.Length > 0 || !hasCalls : content is not null;
        if (hasText || refusal is not null || !hasCalls)
            Add(items, buffer, writer, w => WriteAssistantMessage(w, content, refusal, path));
        if (toolCalls is not { } list) return;
        var at = 0;
        foreach (var call in list.EnumerateArray())
        {
            var callPath = $"{path}.tool_calls[{at++}]";
            Add(items, buffer, writer, w => WriteFunctionCall(w, call, callPath));
        }
    }

    private static void WriteAssistantMessage(Utf8JsonWriter w, JsonElement? content, string? refusal, string path)
    {
        w.WriteStartObject();
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        if (content is { ValueKind: JsonValueKind.String } text) WriteText(w, "output_text", text.GetString()!);
        else if (content is { } parts)
        {
            var at = 0;
            foreach (var part in ChatJson.Array(parts, $"{path}.content").EnumerateArray())
            {
                var partPath = $"{path}.content[{at++}]";
                ChatJson.Object(part, partPath);
                switch (ChatJson.RequiredString(part, "type", partPath))
                {
                    case "text": WriteText(w, "output_text", ChatJson.RequiredString(part, "text", partPath)); break;
                    case "refusal": WriteRefusal(w, ChatJson.RequiredString(part, "refusal", partPath)); break;
                    default: throw ChatRequestException.Invalid($"'{partPath}.type' must be text or refusal.", $"{partPath}.type");
                }
            }
        }
        if (refusal is not null) WriteRefusal(w, refusal);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteRefusal(Utf8JsonWriter w, string refusal)
    {
        w.WriteStartObject();
        w.WriteString("type", "refusal");
        w.WriteString("refusal", refusal);
        w.WriteEndObject();
    }

    private static void WriteFunctionCall(Utf8JsonWriter w, JsonElement call, string path)
    {
        ChatJson.Object(call, path);
        if (ChatJson.String(call, "type", path) is { } type && type != "function")
            throw ChatRequestException.Invalid($"'{path}.type' '{type}' is not supported; only function tool calls are.", $"{path}.type");
        var function = ChatJson.Object(ChatJson.Get(call, "function")
            ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.function'.", $"{path}.function"), $"{path}.function");
        w.WriteStartObject();
        w.WriteString("type", "function_call");
        w.WriteString("call_id", ChatJson.RequiredString(call, "id", path));
        w.WriteString("name", ChatJson.RequiredString(function, "name", $"{path}.function"));
        w.WriteString("arguments", ChatJson.String(function, "arguments", $"{path}.function") ?? "");
        w.WriteEndObject();
    }

    private static void WriteToolOutput(Utf8JsonWriter w, JsonElement message, string path)
    {
        w.WriteStartObject();
        w.WriteString("type", "function_call_output");
        w.WriteString("call_id", ChatJson.RequiredString(message, "tool_call_id", path));
        w.WriteString("output", ToolText(message, path));
        w.WriteEndObject();
    }

    /// <summary>A tool message's content: a string, or text parts (joined, as the model reads them).</summary>
    private static string ToolText(JsonElement message, string path)
    {
        var content = ChatJson.Get(message, "content")
            ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.content'.", $"{path}.content");
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        var text = new StringBuilder();
        var at = 0;
        foreach (var part in ChatJson.Array(content, $"{path}.content").EnumerateArray())
        {
            var partPath = $"{path}.content[{at++}]";
            ChatJson.Object(part, partPath);
            if (ChatJson.RequiredString(part, "type", partPath) != "text")
                throw ChatRequestException.Invalid($"'{partPath}.type' must be text.", $"{partPath}.type");
            text.Append(ChatJson.RequiredString(part, "text", partPath));
        }
        return text.ToString();
    }
}
