namespace CodexLb.Protocol.Requests;

/// <summary>
/// A Responses API create body, split into what the bridge routes on and the raw pieces it forwards untouched.
/// </summary>
public sealed class ResponseCreateRequest
{
    /// <summary>The frame type of a websocket message (<c>response.create</c>); absent in HTTP bodies.</summary>
    public string? Type { get; init; }

    public string? PreviousResponseId { get; init; }
    public bool Stream { get; init; }
    public bool Generate { get; init; } = true;
    public string? Model { get; init; }
    public string? PromptCacheKey { get; init; }

    /// <summary>The client's <c>store</c>, null when it sent none (the API's default is true).</summary>
    public bool? Store { get; init; }

    /// <summary><c>background:true</c>: the turn runs on whether or not the client stays, and is polled with retrieve.</summary>
    public bool Background { get; init; }

    /// <summary>Every other top-level property as raw <c>"name":value</c> pairs joined by commas (no braces).</summary>
    public required byte[] Settings { get; init; }

    /// <summary>The settings by meaning (<see cref="RequestSettings.PairFingerprint"/>): what tells a client's retry from another turn.</summary>
    public required ulong SettingsFingerprint { get; init; }

    /// <summary>Each input item as raw JSON (a string input becomes one user message item).</summary>
    public required byte[][] InputItems { get; init; }

    /// <summary>The conversation object the response runs in (<c>conversation</c>, as an id or <c>{"id"}</c>), or null.</summary>
    public string? ConversationId { get; init; }

    /// <summary>
    /// This request as its conversation continues it: after <paramref name="previousResponseId"/> (the conversation's last
    /// response) or, with none, with <paramref name="inputItems"/> (the conversation's items, then this request's input).
    /// </summary>
    public ResponseCreateRequest InConversation(string? previousResponseId, byte[][] inputItems) => new()
    {
        Type = Type,
        PreviousResponseId = previousResponseId,
        Stream = Stream,
        Generate = Generate,
        Model = Model,
        PromptCacheKey = PromptCacheKey,
        Store = Store,
        Background = Background,
        Settings = Settings,
        SettingsFingerprint = SettingsFingerprint,
        InputItems = inputItems,
        ConversationId = ConversationId,
    };
}
