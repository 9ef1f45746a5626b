using System.Text.Json;

namespace CodexLb.Protocol.Chat;

/// <summary>Typed reads of a chat request's values: a wrong type is a 400 naming the parameter's path.</summary>
internal static class ChatJson
{
    /// <summary>The property's value, or null when it is absent or JSON null (the same to OpenAI).</summary>
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static string? String(JsonElement obj, string name, string path) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw ChatRequestException.Invalid($"'{path}.{name}' must be a string.", $"{path}.{name}"),
    };

    public static string RequiredString(JsonElement obj, string name, string path) =>
        String(obj, name, path) ?? throw ChatRequestException.Invalid($"Missing required parameter: '{path}.{name}'.", $"{path}.{name}");

    public static JsonElement Object(JsonElement value, string path) => value.ValueKind == JsonValueKind.Object
        ? value
        : throw ChatRequestException.Invalid($"'{path}' must be an object.", path);

    public static JsonElement Array(JsonElement value, string path) => value.ValueKind == JsonValueKind.Array
        ? value
        : throw ChatRequestException.Invalid($"'{path}' must be an array.", path);

    public static bool Bool(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw ChatRequestException.Invalid($"'{path}' must be a boolean.", path),
    };

    /// <summary>Writes a value the client gave as the provider takes it (schemas, metadata), property by property.</summary>
    public static void Copy(Utf8JsonWriter writer, string name, JsonElement value)
    {
        writer.WritePropertyName(name);
        value.WriteTo(writer);
    }
}
