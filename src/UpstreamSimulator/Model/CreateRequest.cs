using System.Text;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Model.Settings;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>What the newest input item is; <see cref="CompactionTrigger"/> is the Codex CLI's remote-compaction request
/// (a <c>{"type":"compaction_trigger"}</c> item, answered with exactly one compaction item).</summary>
internal enum NewestItemKind { None, UserMessage, ToolOutput, CompactionTrigger, Other }

/// <summary>
/// What the simulator needs from a <c>response.create</c> frame or HTTP create body. Parsed with
/// <see cref="JsonDocument"/> (no reflection) and fully extracted, so the caller's buffer can be reused at once.
/// </summary>
internal sealed class CreateRequest
{
    public string? Type { get; private set; }
    public string Model { get; private set; } = "";
    public string? PreviousResponseId { get; private set; }
    public bool Generate { get; private set; } = true;
    public bool Stream { get; private set; }
    public int InputItemCount { get; private set; }
    public int InputTokens { get; private set; }
    public NewestItemKind NewestKind { get; private set; }

    /// <summary>Text of the newest input item when it is a user message (drives the scripted model).</summary>
    public string? NewestUserText { get; private set; }

    /// <summary>Text of the newest user message anywhere in this request's input (fault targeting, directives).</summary>
    public string? LatestUserText { get; private set; }

    /// <summary>Assistant messages in the input: with the anchor's count this numbers the next answer.</summary>
    public int AssistantMessages { get; private set; }

    public int RequestBytes { get; private set; }

    /// <summary>Everything but the input: echoed settings, tools, tool_choice, text.format.</summary>
    public RequestSettings Settings { get; } = new();

    public RequestEcho Echo => Settings.Echo;

    /// <summary><c>input_image</c> parts of the newest item when it is a user message.</summary>
    public int NewestImageCount { get; private set; }

    /// <summary>The output text of the newest item when it is a tool output.</summary>
    public string? NewestToolOutput { get; private set; }

    /// <summary>The function whose call the newest tool output answers, when that call is in this request's input.</summary>
    public string? NewestToolName { get; private set; }

    /// <summary>The raw <c>input</c> value, kept only when the request asks to be stored.</summary>
    public byte[]? InputJson { get; private set; }

    /// <exception cref="JsonException">The body is not a JSON object.</exception>
    /// <param name="keepInput">Keep the raw input even when the request does not ask to be stored (compact).</param>
    public static CreateRequest Parse(ReadOnlyMemory<byte> json, string defaultModel, bool keepInput = false)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("The request body must be a JSON object.");
        }

        var request = new CreateRequest { RequestBytes = json.Length, Model = defaultModel };
        JsonElement input = default;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type" when property.Value.ValueKind == JsonValueKind.String:
                    request.Type = property.Value.GetString();
                    break;
                case "model" when property.Value.ValueKind == JsonValueKind.String:
                    request.Model = property.Value.GetString() ?? defaultModel;
                    break;
                case "previous_response_id" when property.Value.ValueKind == JsonValueKind.String:
                    request.PreviousResponseId = request.Echo.PreviousResponseId = property.Value.GetString();
                    break;
                case "generate" when property.Value.ValueKind is JsonValueKind.False:
                    request.Generate = false;
                    break;
                case "stream" when property.Value.ValueKind is JsonValueKind.True:
                    request.Stream = true;
                    break;
                case "input":
                    input = property.Value;
                    request.ReadInput(input);
                    break;
                default:
                    request.Settings.Read(property);
                    break;
            }
        }

        if ((keepInput || request.Echo.Store) && input.ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            request.InputJson = RequestSettings.Raw(input);
        }

        return request;
    }

    private void ReadInput(JsonElement input)
    {
        var meter = new TokenCounter.Meter();
        if (input.ValueKind == JsonValueKind.String)
        {
            // A bare string is one user message.
            InputItemCount = 1;
            InputTokens = meter.Measure(input);
            NewestKind = NewestItemKind.UserMessage;
            NewestUserText = LatestUserText = input.GetString();
            return;
        }

        if (input.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        Dictionary<string, string>? callNames = null;
        foreach (var item in input.EnumerateArray())
        {
            InputItemCount++;
            InputTokens += meter.Measure(item);
            NewestKind = Classify(item, out var role);
            NewestUserText = NewestToolOutput = NewestToolName = null;
            NewestImageCount = 0;
            if (role == "user")
            {
                NewestUserText = LatestUserText = MessageText(item, out var images);
                NewestImageCount = images;
            }
            else if (role == "assistant")
            {
                AssistantMessages++;
            }
            else if (NewestKind == NewestItemKind.ToolOutput)
            {
                NewestToolOutput = OutputText(item);
                var callId = RequestSettings.String(item, "call_id");
                NewestToolName = callId is not null && callNames?.TryGetValue(callId, out var name) == true ? name : null;
            }
            else if (RequestSettings.String(item, "type") is "function_call" or "custom_tool_call"
                     && RequestSettings.String(item, "call_id") is { } id && RequestSettings.String(item, "name") is { } called)
            {
                (callNames ??= new Dictionary<string, string>(StringComparer.Ordinal))[id] = called;
            }
        }
    }

    private static string OutputText(JsonElement item)
    {
        if (!item.TryGetProperty("output", out var output))
        {
            return "";
        }

        return output.ValueKind == JsonValueKind.String ? output.GetString() ?? "" : PartsText(output, out _);
    }

    private static NewestItemKind Classify(JsonElement item, out string? role)
    {
        role = null;
        if (item.ValueKind != JsonValueKind.Object)
        {
            return NewestItemKind.Other;
        }

        var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type is null or "message" && item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String)
        {
            role = r.GetString();
            return role == "user" ? NewestItemKind.UserMessage : NewestItemKind.Other;
        }

        return type switch
        {
            "function_call_output" or "custom_tool_call_output" => NewestItemKind.ToolOutput,
            "compaction_trigger" => NewestItemKind.CompactionTrigger,
            _ => NewestItemKind.Other,
        };
    }

    private static string MessageText(JsonElement message, out int images)
    {
        images = 0;
        if (!message.TryGetProperty("content", out var content))
        {
            return "";
        }

        return content.ValueKind == JsonValueKind.String ? content.GetString() ?? "" : PartsText(content, out images);
    }

    /// <summary>The text parts joined by newlines; image parts (a URL, a data: URL or a file id) are counted.</summary>
    private static string PartsText(JsonElement content, out int images)
    {
        images = 0;
        if (content.ValueKind != JsonValueKind.Array)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            if (RequestSettings.String(part, "type") == "input_image")
            {
                images++;
            }
            else if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append(t.GetString());
            }
        }

        return text.ToString();
    }
}
