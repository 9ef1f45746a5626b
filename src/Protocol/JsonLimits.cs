using System.Text.Json;

namespace CodexLb.Protocol;

/// <summary>
/// How deep the JSON the bridge handles may nest. A client's body may nest <see cref="RequestDepth"/> levels (deeper is a
/// 400 <c>invalid_json</c> at the gateway); everything that re-reads what was accepted (settings, items) or what the
/// provider sends back about it (a response object echoes the request's tools a few levels deeper) reads with
/// <see cref="Reader"/>, so an accepted request never fails later on the default depth of 64.
/// </summary>
public static class JsonLimits
{
    public const int RequestDepth = 256;

    public static JsonReaderOptions Reader => new() { MaxDepth = RequestDepth + 16 };

    /// <summary>
    /// Whether the reader's current token, when a number, is one a double holds (<c>1e999999</c> is valid JSON but no
    /// number a provider accepts: the request would fail upstream, or hang a provider that chokes on it).
    /// </summary>
    public static bool IsFiniteNumber(ref Utf8JsonReader reader) =>
        reader.TokenType != JsonTokenType.Number || (reader.TryGetDouble(out var value) && double.IsFinite(value));

    /// <summary>The error for a number out of a double's range, naming the top-level field it is in when known.</summary>
    public static Errors.OpenAIError NumberOutOfRange(string? param) => Errors.ProxyErrors.InvalidRequest(param is null
        ? "The request holds a number out of range."
        : $"'{param}' holds a number out of range.", param);
}
