using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Requests;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// Translates a Chat Completions body into the Responses create request the bridge runs (<see cref="ResponseCreateRequest"/>,
/// as <see cref="ResponseCreateParser"/> would have produced it), validating it on the way: well-formed UTF-8, no lone
/// surrogate escape anywhere it reads (the reader refuses to unescape one), the request depth limit, a model, and
/// messages. A parameter the Responses API has no equivalent for (n&gt;1, logprobs, audio, stop, seed…) is a 400 that
/// names it rather than being dropped: the client would otherwise get a different answer than it asked for.
/// </summary>
public static class ChatRequestTranslator
{
    public static bool TryTranslate(ReadOnlyMemory<byte> body, out ChatCompletionRequest? request, out OpenAIError? error)
    {
        request = null;
        error = null;
        if (!Utf8.IsValid(body.Span)) error = ProxyErrors.InvalidEncoding("The request body is not valid UTF-8.");
        else
        {
            try
            {
                using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = JsonLimits.RequestDepth });
                request = Translate(document.RootElement, out error);
            }
            catch (JsonException)
            {
                error = ProxyErrors.InvalidJson("The request body is not valid JSON.");
            }
        }
        if (error is not null) request = null;
        return error is null;
    }

    private static ChatCompletionRequest? Translate(JsonElement root, out OpenAIError? error)
    {
        error = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = ProxyErrors.InvalidJson("The request body must be a JSON object.");
            return null;
        }
        string? current = null;
        try
        {
            return Translate(root, ref current);
        }
        catch (ChatRequestException ex)
        {
            error = ex.Error;
        }
        catch (InvalidOperationException)
        {
            // The only reads that throw this are unescaping a lone surrogate: the body could never be sent upstream.
            error = ProxyErrors.InvalidEncoding(current is null
                ? "The request body holds a lone surrogate escape; strings must be valid Unicode."
                : $"'{current}' holds a lone surrogate escape; strings must be valid Unicode.", current);
        }
        return null;
    }

    private static ChatCompletionRequest Translate(JsonElement root, ref string? current)
    {
        string? model = null, cacheKey = null, verbosity = null, effort = null;
        var store = false;
        bool stream = false, includeUsage = false, streamOptions = false;
        long? maxTokens = null, maxCompletionTokens = null;
        JsonElement? format = null;
        byte[][]? items = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var settings = new ArrayBufferWriter<byte>(1024);
        using var w = new Utf8JsonWriter(settings);
        w.WriteStartObject();

        foreach (var property in root.EnumerateObject())
        {
            current = null; // reading the name itself may be what fails
            var name = property.Name;
            current = name.Length <= 64 ? name : null;
            if (!seen.Add(name)) throw ChatRequestException.Invalid($"Duplicate parameter '{name}'.", name);
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null) continue; // null is the same as absent
            switch (name)
            {
                case "model":
                    model = value.ValueKind == JsonValueKind.String ? value.GetString() : throw ChatRequestException.Invalid("'model' must be a string.", "model");
                    break;
                case "messages":
                    items = ChatMessages.Translate(value);
                    break;
                case "stream":
                    stream = ChatJson.Bool(value, "stream");
                    break;
                case "stream_options":
                    streamOptions = true;
                    if (ChatJson.Get(ChatJson.Object(value, "stream_options"), "include_usage") is { } usage)
                        includeUsage = ChatJson.Bool(usage, "stream_options.include_usage");
                    break;
                case "tools":
                    ChatTools.WriteTools(w, value);
                    break;
                case "tool_choice":
                    ChatTools.WriteToolChoice(w, value);
                    break;
                case "response_format":
                    format = value;
                    break;
                case "verbosity":
                    verbosity = String(value, name);
                    break;
                case "reasoning_effort":
                    effort = String(value, name);
                    break;
                case "max_tokens":
                    maxTokens = PositiveInteger(value, name);
                    break;
                case "max_completion_tokens":
                    maxCompletionTokens = PositiveInteger(value, name);
                    break;
                case "temperature" or "top_p":
                    if (value.ValueKind != JsonValueKind.Number) throw ChatRequestException.Invalid($"'{name}' must be a number.", name);
                    ChatJson.Copy(w, name, value);
                    break;
                case "parallel_tool_calls":
                    w.WriteBoolean(name, ChatJson.Bool(value, name));
                    break;
                case "prompt_cache_key":
                    cacheKey = String(value, name);
                    w.WriteString(name, cacheKey);
                    break;
                case "user" or "safety_identifier" or "service_tier" or "prompt_cache_retention":
                    w.WriteString(name, String(value, name));
                    break;
                case "metadata":
                    ChatJson.Copy(w, name, ChatJson.Object(value, name));
                    break;
                case "store":
                    store = ChatJson.Bool(value, name); // Chat Completions stores nothing unless asked; so does the bridge
                    break;
                default:
                    Unsupported(name, value);
                    break;
            }
        }
        current = null;

        if (model is null) throw ChatRequestException.Invalid("Missing required parameter: 'model'.", "model");
        if (model is not { Length: > 0 and <= ResponseCreateParser.MaxModelLength })
            throw ChatRequestException.Invalid($"'model' must be a non-empty string of at most {ResponseCreateParser.MaxModelLength} characters.", "model");
        if (items is null) throw ChatRequestException.Invalid("Missing required parameter: 'messages'.", "messages");
        if (items.Length == 0) throw ChatRequestException.Invalid("'messages' must hold at least one message.", "messages");
        if (streamOptions && !stream)
            throw ChatRequestException.Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");

        w.WriteString("model", model);
        if ((maxCompletionTokens ?? maxTokens) is { } limit) w.WriteNumber("max_output_tokens", limit);
        ChatTools.WriteText(w, format, verbosity);
        if (effort is not null)
        {
            w.WriteStartObject("reasoning");
            w.WriteString("effort", effort);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.Flush();

        return new ChatCompletionRequest
        {
            Responses = new ResponseCreateRequest
            {
                Model = model,
                PromptCacheKey = cacheKey,
                Stream = stream,
                Store = store,
                Settings = settings.WrittenSpan[1..^1].ToArray(), // "name":value pairs, without the braces
                SettingsFingerprint = RequestSettings.Fingerprint(settings.WrittenSpan[1..^1]),
                InputItems = items,
            },
            IncludeUsage = includeUsage,
        };
    }

    /// <summary>
    /// A parameter the Responses API cannot honour: accepted when it asks for the default (n:1, logprobs:false,
    /// penalties 0, an empty stop or logit_bias, text-only modalities), otherwise a 400 naming it.
    /// </summary>
    private static void Unsupported(string name, JsonElement value)
    {
        var harmless = name switch
        {
            "n" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n == 1,
            "logprobs" => value.ValueKind == JsonValueKind.False,
            "frequency_penalty" or "presence_penalty" => value.ValueKind == JsonValueKind.Number && value.GetDouble() == 0,
            "stop" => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0,
            "logit_bias" => value.ValueKind == JsonValueKind.Object && !value.EnumerateObject().Any(),
            "modalities" => value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.ValueEquals("text")),
            _ => false,
        };
        if (harmless) return;
        var message = name switch
        {
            "n" => "Only one choice per request is supported ('n' must be 1).",
            "logprobs" or "top_logprobs" => $"'{name}' is not supported by this bridge.",
            "audio" or "modalities" => "Audio output is not supported by this bridge; use text.",
            "functions" or "function_call" => $"'{name}' is deprecated and not supported; use 'tools' and 'tool_choice'.",
            "stop" or "seed" or "logit_bias" or "frequency_penalty" or "presence_penalty" or "prediction" or "web_search_options" =>
                $"'{name}' is not supported by this bridge (the Responses API has no equivalent).",
            _ => $"Unrecognized request argument supplied: {(name.Length <= 64 ? name : name[..64] + "…")}",
        };
        throw ChatRequestException.Invalid(message, name.Length <= 64 ? name : null);
    }

    private static string String(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw ChatRequestException.Invalid($"'{name}' must be a string.", name);

    private static long PositiveInteger(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number > 0
            ? number
            : throw ChatRequestException.Invalid($"'{name}' must be a positive integer.", name);
}
