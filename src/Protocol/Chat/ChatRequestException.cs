using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Chat;

/// <summary>
/// A chat request the bridge cannot run, found somewhere deep in its messages or tools: thrown there, caught once by
/// <see cref="ChatRequestTranslator"/> and answered as a 400, so every helper can stay a plain translation.
/// </summary>
internal sealed class ChatRequestException(OpenAIError error) : Exception(error.Message)
{
    public OpenAIError Error { get; } = error;

    public static ChatRequestException Invalid(string message, string? param) => new(ProxyErrors.InvalidRequest(message, param));
}
