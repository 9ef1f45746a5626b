using System.Text.Json;
using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Conversations;

/// <summary>
/// The body of a Conversations API create (<c>items</c>, <c>metadata</c>), update (<c>metadata</c>) or items add
/// (<c>items</c>), checked as the API checks it: at most 20 items, each an object that says what it is (<c>type</c>, or
/// <c>role</c> for a message); metadata at most 16 string pairs, keys up to 64 characters, values up to 512. Items are kept
/// as sent (their raw JSON); other fields are ignored.
/// </summary>
public sealed record ConversationRequest(IReadOnlyList<byte[]> Items, string? MetadataJson)
{
    public const int MaxItems = 20, MaxMetadataPairs = 16, MaxMetadataKey = 64, MaxMetadataValue = 512;

    public static ConversationRequest? Parse(ReadOnlySpan<byte> body, ConversationRequestKind kind, out OpenAIError? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = JsonLimits.RequestDepth });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            error = ProxyErrors.InvalidJson($"The request body is not valid JSON: {ex.Message}");
            return null;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = ProxyErrors.InvalidJson("The request body must be a JSON object.");
                return null;
            }
            var items = new List<byte[]>();
            if (root.TryGetProperty("items", out var list) && list.ValueKind != JsonValueKind.Null && kind != ConversationRequestKind.Update
                && (error = ReadItems(list, items)) is not null)
                return null;
            if (kind == ConversationRequestKind.AddItems && items.Count == 0)
            {
                error = ProxyErrors.InvalidRequest("'items' must be an array of 1 to 20 items.", "items");
                return null;
            }
            string? metadata = null;
            if (root.TryGetProperty("metadata", out var pairs) && pairs.ValueKind != JsonValueKind.Null && kind != ConversationRequestKind.AddItems)
            {
                if ((error = CheckMetadata(pairs)) is not null) return null;
                metadata = pairs.GetRawText();
            }
            else if (kind == ConversationRequestKind.Update)
            {
                error = ProxyErrors.InvalidRequest("'metadata' is required: it is what an update changes.", "metadata");
                return null;
            }
            return new ConversationRequest(items, metadata);
        }
    }

    private static OpenAIError? ReadItems(JsonElement list, List<byte[]> items)
    {
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > MaxItems)
            return ProxyErrors.InvalidRequest($"'items' must be an array of at most {MaxItems} items.", "items");
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var typed = item.ValueKind == JsonValueKind.Object
                && ((item.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
                    || (item.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String));
            if (!typed) return ProxyErrors.InvalidRequest("Each item must be an object with a 'type' (or a message's 'role').", $"items[{index}]");
            items.Add(JsonMarshalRaw(item));
            index++;
        }
        return null;
    }

    private static OpenAIError? CheckMetadata(JsonElement pairs)
    {
        if (pairs.ValueKind != JsonValueKind.Object) return ProxyErrors.InvalidRequest("'metadata' must be an object of string values.", "metadata");
        var count = 0;
        foreach (var pair in pairs.EnumerateObject())
        {
            if (++count > MaxMetadataPairs || pair.Name.Length > MaxMetadataKey || pair.Value.ValueKind != JsonValueKind.String
                || pair.Value.GetString()!.Length > MaxMetadataValue)
                return ProxyErrors.InvalidRequest(
                    $"'metadata' holds at most {MaxMetadataPairs} pairs, keys of at most {MaxMetadataKey} characters and string values of at most {MaxMetadataValue}.",
                    "metadata");
        }
        return null;
    }

    private static byte[] JsonMarshalRaw(JsonElement element) => System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).ToArray();
}

public enum ConversationRequestKind
{
    Create,
    Update,
    AddItems,
}
