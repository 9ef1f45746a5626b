using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree;
using CodexLb.Protocol;
using CodexLb.Protocol.Errors;

namespace CodexLb.Grains.ResponsesApi;

/// <summary>
/// Rewrites a body that names a <c>previous_response_id</c> into one that carries the context it names: the provider
/// never saw our ids' contexts (they live on our sockets and in our tree), so it must get them whole. Rare path (input
/// token counting, compaction): a DOM is fine.
/// </summary>
public static class ContextExpansion
{
    public static async Task<(byte[]? Body, OpenAIError? Error)> ExpandAsync(byte[] body,
        Func<string, CancellationToken, Task<NodePath>> loadPath, CancellationToken cancellationToken)
    {
        JsonObject request;
        try
        {
            // A repeated property name is refused here: the DOM would throw on it (a retryable 500), and what the provider
            // makes of one is anyone's guess.
            var options = new JsonDocumentOptions { MaxDepth = JsonLimits.RequestDepth, AllowDuplicateProperties = false };
            if (JsonNode.Parse(body, documentOptions: options) is not JsonObject parsed)
                return (null, ProxyErrors.InvalidJson("The request body must be a JSON object."));
            request = parsed;
        }
        catch (JsonException)
        {
            return (null, ProxyErrors.InvalidJson("The request body is not valid JSON, or repeats a property name in one object."));
        }

        if (!request.TryGetPropertyValue("previous_response_id", out var previousNode) || previousNode is null) return (body, null);
        if (previousNode.GetValueKind() != JsonValueKind.String || previousNode.GetValue<string>() is not { Length: > 0 } previous)
            return (null, ProxyErrors.InvalidRequest("'previous_response_id' must be a non-empty string.", "previous_response_id"));

        var path = await loadPath(previous, cancellationToken);
        if (path.Status != ResponseStatus.Found)
            return (null, path.Status == ResponseStatus.Expired ? ProxyErrors.PreviousResponseExpired(previous) : ProxyErrors.PreviousResponseNotFound(previous));

        var input = new JsonArray([.. path.ContextItems().Select(item => JsonNode.Parse(item))]);
        switch (request["input"])
        {
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                input.Add(new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = text.GetValue<string>() });
                break;
            case JsonArray items:
                foreach (var item in items.ToList()) { items.Remove(item); input.Add(item); }
                break;
        }
        request.Remove("previous_response_id");
        request["input"] = input;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(body.Length * 2);
        using (var writer = new Utf8JsonWriter(buffer)) request.WriteTo(writer);
        return (buffer.WrittenSpan.ToArray(), null);
    }
}
