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
}
