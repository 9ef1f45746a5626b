using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using CodexLb.Protocol.Buffers;
using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Requests;

/// <summary>
/// Parses a create body (HTTP) or a <c>response.create</c> frame (websocket) in one forward pass, slicing raw
/// JSON instead of building a DOM: items and settings are forwarded as the client wrote them. Because they are
/// forwarded as written, the pass also validates them: the body must be well-formed UTF-8 (one vectorized check) and
/// no string anywhere, property names included, may hold an escaped lone surrogate (<c>"\ud800"</c>). A body that
/// fails either is a 400 <c>invalid_encoding</c>: it could never be sent upstream.
/// </summary>
public static class ResponseCreateParser
{
    /// <summary>The longest <c>model</c> accepted (model ids are short; the value is a span attribute).</summary>
    public const int MaxModelLength = 256;

    /// <summary>The only websocket frame type a client sends.</summary>
    public const string CreateFrameType = "response.create";

    /// <summary>Parses an HTTP create body.</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out ResponseCreateRequest? request, out OpenAIError? error) =>
        TryParse(body, Body.Create, out request, out error);

    /// <summary>Parses a websocket frame: it must be a <c>response.create</c>, and its type is checked before its fields.</summary>
    public static bool TryParseFrame(ReadOnlySpan<byte> frame, out ResponseCreateRequest? request, out OpenAIError? error) =>
        TryParse(frame, Body.Frame, out request, out error);

    /// <summary>
    /// Checks a body the bridge forwards to the provider as written (input token counting, compaction) the way a create
    /// body is checked, so nothing the provider could never accept leaves the bridge; neither model nor input is required.
    /// </summary>
    public static bool TryValidateForward(ReadOnlySpan<byte> body, out OpenAIError? error) => TryParse(body, Body.Forward, out _, out error);

    private enum Body { Create, Frame, Forward }

    private static bool TryParse(ReadOnlySpan<byte> body, Body kind, out ResponseCreateRequest? request, out OpenAIError? error)
    {
        request = null;
        var items = t_items ?? [];
        t_items = null;
        try
        {
            error = Parse(body, kind, items, out request);
        }
        catch (JsonException)
        {
            error = ProxyErrors.InvalidJson("The request body is not valid JSON.");
        }
        catch (InvalidOperationException)
        {
            // Only the reader's string accessors throw this (invalid UTF-8 or surrogates), and those are checked first:
            // should one slip through, it is still the client's body that is wrong, never a retryable 500.
            error = ProxyErrors.InvalidEncoding("The request body holds a string that is not valid Unicode.");
        }
        finally
        {
            items.Clear();
            if (items.Capacity <= 256) t_items = items;
        }
        if (error is not null) request = null;
        return error is null;
    }

    // The items read so far, one list per thread: only the array made at the end outlives a parse (two objects per request).
    [ThreadStatic] private static List<byte[]>? t_items;

    [Flags]
    private enum Seen { None = 0, Input = 1, Previous = 2, Stream = 4, Type = 8, Model = 16, CacheKey = 32, Generate = 64, Store = 128, Background = 256, Conversation = 512 }

    private static OpenAIError? Parse(ReadOnlySpan<byte> body, Body kind, List<byte[]> items, out ResponseCreateRequest? request)
    {
        request = null;
        if (!Utf8.IsValid(body)) return ProxyErrors.InvalidEncoding("The request body is not valid UTF-8.");
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = JsonLimits.RequestDepth });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return ProxyErrors.InvalidJson("The request body must be a JSON object.");

        string? previous = null, model = null, cacheKey = null, type = null, conversation = null;
        bool stream = false, generate = true, typeIsString = false, background = false;
        bool? store = null;
        var seen = Seen.None;
        // The first problem with a field's value: reported after the whole body was read, so that a frame's type and a
        // broken body (JSON, encoding) take precedence over it.
        OpenAIError? fieldError = null;
        using var settings = new PooledBytes(Math.Min(body.Length, 64 * 1024) + 16); // rented: only the copy made at the end outlives the parse
        ulong settingsFingerprint = 0;
        Span<char> nameScratch = stackalloc char[64];

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var nameStart = (int)reader.TokenStartIndex;
            if (!HasValidEscapes(ref reader)) return ProxyErrors.InvalidEncoding("A property name holds a lone surrogate escape.");
            // No string per name (a dozen per request); the span holds until the next name.
            ReadOnlySpan<char> name = RequestSettings.TryCopyName(ref reader, nameScratch, out var nameLength) ? nameScratch[..nameLength] : reader.GetString();
            reader.Read();
            var valueStart = (int)reader.TokenStartIndex;
            var field = Field(name);
            if (field != Seen.None)
            {
                if ((seen & field) != 0) fieldError ??= ProxyErrors.InvalidRequest($"Duplicate parameter '{name}'.", name.ToString());
                seen |= field;
            }
            switch (field)
            {
                case Seen.Input:
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (!HasValidEscapes(ref reader)) return LoneSurrogate("input");
                        items.Add(UserMessage(reader.GetString()!));
                    }
                    else if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            if (reader.TokenType != JsonTokenType.StartObject)
                                fieldError ??= ProxyErrors.InvalidRequest("Every input item must be an object.", "input");
                            var itemStart = (int)reader.TokenStartIndex;
                            if (!SkipValidating(ref reader)) return LoneSurrogate("input");
                            if (reader.TokenType == JsonTokenType.EndObject) items.Add(body[itemStart..(int)reader.BytesConsumed].ToArray());
                        }
                    }
                    else
                    {
                        if (reader.TokenType != JsonTokenType.Null)
                            fieldError ??= ProxyErrors.InvalidRequest("'input' must be a string or an array of items.", "input");
                        if (!SkipValidating(ref reader)) return LoneSurrogate("input");
                    }
                    continue;
                case Seen.Previous:
                    if (!SkipValidating(ref reader)) return LoneSurrogate("previous_response_id");
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 and <= 256 } id)
                        fieldError ??= ProxyErrors.InvalidRequest("'previous_response_id' must be a non-empty string.", "previous_response_id");
                    else previous = id;
                    continue;
                case Seen.Stream:
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                        fieldError ??= ProxyErrors.InvalidRequest("'stream' must be a boolean.", "stream");
                    if (!SkipValidating(ref reader)) return LoneSurrogate("stream");
                    stream = reader.TokenType == JsonTokenType.True;
                    continue;
                case Seen.Type:
                    if (!SkipValidating(ref reader)) return LoneSurrogate("type");
                    typeIsString = reader.TokenType == JsonTokenType.String;
                    if (typeIsString) type = reader.ValueTextEquals(CreateFrameType) ? CreateFrameType : reader.GetString();
                    continue; // bridge-owned: never forwarded
                case Seen.Model:
                    if (!SkipValidating(ref reader)) return LoneSurrogate("model");
                    if (reader.TokenType == JsonTokenType.String) model = ModelName(ref reader);
                    else if (reader.TokenType == JsonTokenType.Null) seen &= ~Seen.Model; // null is the same as absent
                    else fieldError ??= ProxyErrors.InvalidRequest("'model' must be a string.", "model");
                    break;
                case Seen.CacheKey:
                    if (!SkipValidating(ref reader)) return LoneSurrogate("prompt_cache_key");
                    if (reader.TokenType == JsonTokenType.String) cacheKey = reader.GetString();
                    break;
                case Seen.Store or Seen.Background:
                    // Bridge-owned (it decides what goes upstream), but the client's choice is kept and honoured.
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                        fieldError ??= ProxyErrors.InvalidRequest($"'{name}' must be a boolean.", name.ToString());
                    if (!SkipValidating(ref reader)) return LoneSurrogate(name.ToString());
                    if (field == Seen.Background) background = reader.TokenType == JsonTokenType.True;
                    else if (reader.TokenType != JsonTokenType.Null) store = reader.TokenType == JsonTokenType.True;
                    continue;
                case Seen.Conversation:
                    // Bridge-owned: the provider holds no conversation of ours, so the gateway turns it into an anchor or items.
                    var conversationStart = (int)reader.TokenStartIndex;
                    if (!SkipValidating(ref reader)) return LoneSurrogate("conversation");
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    conversation = ConversationIdOf(body[conversationStart..(int)reader.BytesConsumed]);
                    if (conversation is null)
                        fieldError ??= ProxyErrors.InvalidRequest("'conversation' must be a conversation id or an object with its 'id'.", "conversation");
                    else if (kind == Body.Forward) fieldError ??= ProxyErrors.ConversationParameterUnsupported("conversation");
                    continue;
                case Seen.Generate:
                    if (!SkipValidating(ref reader)) return LoneSurrogate("generate");
                    generate = reader.TokenType != JsonTokenType.False;
                    break;
                default:
                    if (!SkipValidating(ref reader)) return LoneSurrogate(name.Length <= 64 ? name.ToString() : null);
                    break;
            }
            if (settings.Length > 0) settings.Write(","u8);
            settings.Write(body[nameStart..(int)reader.BytesConsumed]);
            settingsFingerprint += RequestSettings.PairFingerprint(name, body[valueStart..(int)reader.BytesConsumed]);
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return ProxyErrors.InvalidJson("The request body must be a single JSON object.");

        if (kind == Body.Frame)
        {
            if ((seen & Seen.Type) == 0)
                return ProxyErrors.UnsupportedFrameType($"Missing required parameter: 'type'; send a '{CreateFrameType}' frame.");
            if (!typeIsString)
                return ProxyErrors.UnsupportedFrameType($"'type' must be a string; send '{CreateFrameType}'.");
            if (type != CreateFrameType)
                return ProxyErrors.UnsupportedFrameType($"Unsupported frame type '{Shorten(type!)}'; send '{CreateFrameType}'.");
        }
        if (fieldError is not null) return fieldError;
        var forward = kind == Body.Forward;
        if ((seen & Seen.Model) == 0 && !forward) return ProxyErrors.InvalidRequest("Missing required parameter: 'model'.", "model");
        if ((seen & Seen.Model) != 0 && model is not { Length: > 0 and <= MaxModelLength })
            return ProxyErrors.InvalidRequest($"'model' must be a non-empty string of at most {MaxModelLength} characters.", "model");
        if ((seen & Seen.Input) == 0 && previous is null && generate && !forward)
            return ProxyErrors.InvalidRequest("Missing required parameter: 'input'.", "input");
        if (forward) return null;
        // As the API does: a background response is polled and streamed again by its id, which store=false rules out.
        if (background && store == false)
            return ProxyErrors.InvalidRequest("background=true requires store=true: a background response is read back by its id, and a store=false response is never kept to be read.", "store");
        if (conversation is not null && previous is not null)
            return ProxyErrors.InvalidRequest("Mutually exclusive parameters: send either 'previous_response_id' or 'conversation', not both.", "conversation");
        if (conversation is not null && background)
            return ProxyErrors.ConversationParameterUnsupported("background");

        request = new ResponseCreateRequest
        {
            Type = type,
            PreviousResponseId = previous,
            Stream = stream,
            Generate = generate,
            Model = model,
            PromptCacheKey = cacheKey,
            Store = store,
            Background = background,
            Settings = settings.ToArray(),
            SettingsFingerprint = settingsFingerprint,
            InputItems = [.. items],
            ConversationId = conversation,
        };
        return null;
    }

    /// <summary>A <c>conversation</c> value's id: the string itself, or an object's <c>id</c>; null when it is neither.</summary>
    private static string? ConversationIdOf(ReadOnlySpan<byte> value)
    {
        var reader = new Utf8JsonReader(value);
        reader.Read();
        if (reader.TokenType == JsonTokenType.String) return reader.GetString() is { Length: > 0 and <= 256 } id ? id : null;
        return reader.TokenType == JsonTokenType.StartObject && Events.EventReader.ReadString(value, "id") is { Length: > 0 and <= 256 } inner ? inner : null;
    }

    private static string? s_model; // the model of the last request: nearly every request names the same one

    /// <summary>The request's model, as the last request's string when it names the same one (no string per request).</summary>
    private static string ModelName(ref Utf8JsonReader reader) =>
        s_model is { } last && reader.ValueTextEquals(last) ? last : s_model = reader.GetString()!;

    private static Seen Field(ReadOnlySpan<char> name) => name switch
    {
        "input" => Seen.Input,
        "previous_response_id" => Seen.Previous,
        "stream" => Seen.Stream,
        "type" => Seen.Type,
        "model" => Seen.Model,
        "prompt_cache_key" => Seen.CacheKey,
        "generate" => Seen.Generate,
        "store" => Seen.Store,
        "background" => Seen.Background,
        "conversation" => Seen.Conversation,
        _ => Seen.None,
    };

    private static OpenAIError LoneSurrogate(string? param) =>
        ProxyErrors.InvalidEncoding(param is null
            ? "The request body holds a lone surrogate escape; strings must be valid Unicode."
            : $"'{param}' holds a lone surrogate escape; strings must be valid Unicode.", param);

    private static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";

    /// <summary>
    /// Moves past the current value like <see cref="Utf8JsonReader.Skip"/> (the same reads), checking every escaped
    /// string and property name inside it; false when one holds a lone surrogate.
    /// </summary>
    private static bool SkipValidating(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return HasValidEscapes(ref reader);
        var depth = reader.CurrentDepth;
        do
        {
            if (!reader.Read()) throw new JsonException("Unexpected end of JSON.");
            if (!HasValidEscapes(ref reader)) return false;
        }
        while (reader.CurrentDepth > depth);
        return true;
    }

    private static bool HasValidEscapes(ref Utf8JsonReader reader) =>
        reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped ||
        JsonEscapes.SurrogatesArePaired(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);

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
