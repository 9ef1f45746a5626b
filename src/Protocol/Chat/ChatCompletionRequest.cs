using CodexLb.Protocol.Requests;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// A Chat Completions request translated into the Responses create body the bridge runs: the conversation grain only
/// ever sees <see cref="Responses"/>; the rest says how to answer the chat client.
/// </summary>
public sealed class ChatCompletionRequest
{
    public required ResponseCreateRequest Responses { get; init; }

    public bool Stream => Responses.Stream;

    /// <summary><c>stream_options.include_usage</c>: a last chunk with the usage and no choices, before <c>[DONE]</c>.</summary>
    public bool IncludeUsage { get; init; }
}
