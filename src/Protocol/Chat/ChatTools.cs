using System.Text.Json;

namespace CodexLb.Protocol.Chat;

/// <summary>Chat tool definitions, tool choice and response format, written as their Responses settings.</summary>
internal static class ChatTools
{
    /// <summary><c>{"type":"function","function":{…}}</c> → the flat Responses function tool.</summary>
    public static void WriteTools(Utf8JsonWriter w, JsonElement tools)
    {
        ChatJson.Array(tools, "tools");
        w.WriteStartArray("tools");
        var at = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var path = $"tools[{at++}]";
            ChatJson.Object(tool, path);
            var type = ChatJson.RequiredString(tool, "type", path);
            if (type != "function")
                throw ChatRequestException.Invalid($"'{path}.type' '{type}' is not supported; only function tools are.", $"{path}.type");
            var function = ChatJson.Object(ChatJson.Get(tool, "function")
                ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.function'.", $"{path}.function"), $"{path}.function");
            w.WriteStartObject();
            w.WriteString("type", "function");
            w.WriteString("name", ChatJson.RequiredString(function, "name", $"{path}.function"));
            if (ChatJson.String(function, "description", $"{path}.function") is { } description) w.WriteString("description", description);
            if (ChatJson.Get(function, "parameters") is { } parameters) ChatJson.Copy(w, "parameters", ChatJson.Object(parameters, $"{path}.function.parameters"));
            else
            {
                // Chat allows a function without parameters; Responses wants a schema.
                w.WriteStartObject("parameters");
                w.WriteString("type", "object");
                w.WriteStartObject("properties");
                w.WriteEndObject();
                w.WriteEndObject();
            }
            // Chat functions are non-strict unless asked; Responses functions are strict unless told otherwise.
            w.WriteBoolean("strict", ChatJson.Get(function, "strict") is { } strict && ChatJson.Bool(strict, $"{path}.function.strict"));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>"none" | "auto" | "required" as they are; a named function loses its <c>function</c> wrapper.</summary>
    public static void WriteToolChoice(Utf8JsonWriter w, JsonElement choice)
    {
        if (choice.ValueKind == JsonValueKind.String)
        {
            var mode = choice.GetString();
            if (mode is not ("none" or "auto" or "required"))
                throw ChatRequestException.Invalid("'tool_choice' must be none, auto, required or a function.", "tool_choice");
            w.WriteString("tool_choice", mode);
            return;
        }
        ChatJson.Object(choice, "tool_choice");
        if (ChatJson.RequiredString(choice, "type", "tool_choice") != "function")
            throw ChatRequestException.Invalid("'tool_choice.type' must be function.", "tool_choice.type");
        var function = ChatJson.Object(ChatJson.Get(choice, "function")
            ?? throw ChatRequestException.Invalid("Missing required parameter: 'tool_choice.function'.", "tool_choice.function"), "tool_choice.function");
        w.WriteStartObject("tool_choice");
        w.WriteString("type", "function");
        w.WriteString("name", ChatJson.RequiredString(function, "name", "tool_choice.function"));
        w.WriteEndObject();
    }

    /// <summary><c>response_format</c> and <c>verbosity</c> both live in the Responses <c>text</c> object.</summary>
    public static void WriteText(Utf8JsonWriter w, JsonElement? format, string? verbosity)
    {
        if (format is null && verbosity is null) return;
        w.WriteStartObject("text");
        if (format is { } value) WriteFormat(w, ChatJson.Object(value, "response_format"));
        if (verbosity is not null) w.WriteString("verbosity", verbosity);
        w.WriteEndObject();
    }

    private static void WriteFormat(Utf8JsonWriter w, JsonElement format)
    {
        var type = ChatJson.RequiredString(format, "type", "response_format");
        w.WriteStartObject("format");
        w.WriteString("type", type);
        switch (type)
        {
            case "text" or "json_object":
                break;
            case "json_schema":
                // {"json_schema":{"name","description","schema","strict"}} is flattened into the format.
                var schema = ChatJson.Object(ChatJson.Get(format, "json_schema")
                    ?? throw ChatRequestException.Invalid("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema"),
                    "response_format.json_schema");
                w.WriteString("name", ChatJson.RequiredString(schema, "name", "response_format.json_schema"));
                if (ChatJson.String(schema, "description", "response_format.json_schema") is { } description) w.WriteString("description", description);
                if (ChatJson.Get(schema, "schema") is { } body) ChatJson.Copy(w, "schema", ChatJson.Object(body, "response_format.json_schema.schema"));
                if (ChatJson.Get(schema, "strict") is { } strict) w.WriteBoolean("strict", ChatJson.Bool(strict, "response_format.json_schema.strict"));
                break;
            default:
                throw ChatRequestException.Invalid("'response_format.type' must be text, json_object or json_schema.", "response_format.type");
        }
        w.WriteEndObject();
    }
}
