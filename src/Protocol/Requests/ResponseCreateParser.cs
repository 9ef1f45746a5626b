using System.Buffers;
using System.Text.Json;
using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Requests;

/// <summary>
/// Parses a create body (HTTP) or a <c>response.create</c> frame (websocket) in one forward pass, slicing raw
/// JSON instead of building a DOM: items and settings are forwarded as the client wrote them.
/// </summary>
public static class ResponseCreateParser
{
    /// <summary>Properties the bridge owns besides input/previous_response_id/stream: it sets them itself upstream.</summary>
    private static bool IsBridgeOwned(string name) => name is "background" or "store" or "type";

    public static bool TryParse(ReadOnlySpan<byte> body, out ResponseCreateRequest? request, out OpenAIError? error)
    {
        request = null;
        try
        {
            error = Parse(body, out request);
        }
        catch (JsonException)
        {
            error = ProxyErrors.InvalidJson("The request body is not valid JSON.");
        }
        return error is null;
    }

    private static OpenAIError? Parse(ReadOnlySpan<byte> body, out ResponseCreateRequest? request)
    {
        request = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return ProxyErrors.InvalidJson("The request body must be a JSON object.");

        string? previous = null, model = null, cacheKey = null, type = null;
        bool stream = false, generate = true, sawInput = false;
        var items = new List<byte[]>();
        var settings = new ArrayBufferWriter<byte>(Math.Min(body.Length, 64 * 1024) + 16);

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var nameStart = (int)reader.TokenStartIndex;
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "input":
                    sawInput = true;
                    if (reader.TokenType == JsonTokenType.String) items.Add(UserMessage(reader.GetString()!));
                    else if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            if (reader.TokenType != JsonTokenType.StartObject)
                                return ProxyErrors.InvalidRequest("Every input item must be an object.", "input");
                            var itemStart = (int)reader.TokenStartIndex;
                            reader.Skip();
                            items.Add(body[itemStart..(int)reader.BytesConsumed].ToArray());
                        }
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                        return ProxyErrors.InvalidRequest("'input' must be a string or an array of items.", "input");
                    continue;
                case "previous_response_id":
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 and <= 256 } id)
                        return ProxyErrors.InvalidRequest("'previous_response_id' must be a non-empty string.", "previous_response_id");
                    previous = id;
                    continue;
                case "stream":
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                        return ProxyErrors.InvalidRequest("'stream' must be a boolean.", "stream");
                    stream = reader.TokenType == JsonTokenType.True;
                    continue;
                case "type":
                    if (reader.TokenType == JsonTokenType.String) type = reader.GetString();
                    break;
                case "model":
                    if (reader.TokenType == JsonTokenType.String) model = reader.GetString();
                    break;
                case "prompt_cache_key":
                    if (reader.TokenType == JsonTokenType.String) cacheKey = reader.GetString();
                    break;
                case "generate":
                    generate = reader.TokenType != JsonTokenType.False;
                    break;
            }
            reader.Skip();
            if (IsBridgeOwned(name)) continue;
            if (settings.WrittenCount > 0) settings.Write(","u8);
            settings.Write(body[nameStart..(int)reader.BytesConsumed]);
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return ProxyErrors.InvalidJson("The request body must be a single JSON object.");
        if (!sawInput && previous is null && generate)
            return ProxyErrors.InvalidRequest("Missing required parameter: 'input'.", "input");

        request = new ResponseCreateRequest
        {
            Type = type,
            PreviousResponseId = previous,
            Stream = stream,
            Generate = generate,
            Model = model,
            PromptCacheKey = cacheKey,
            Settings = settings.WrittenSpan.ToArray(),
            InputItems = [.. items],
        };
        return null;
    }

    private static byte[] UserMessage(string text)
    {
        var buffer = new ArrayBufferWriter<byte>(text.Length + 96);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message");
            writer.WriteString("role", "user");
            writer.WriteStartArray("content");
            writer.WriteStartObject();
            writer.WriteString("type", "input_text");
            writer.WriteString("text", text);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
