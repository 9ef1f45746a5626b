using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

internal enum TurnKind { Completed, Error, Failed }

/// <summary>An API error: a websocket error frame, an HTTP error body, or the error of response.failed.</summary>
/// <param name="Code">Null for the errors the provider sends without one (an unknown response id).</param>
internal sealed record SimError(int Status, string Type, string? Code, string Message, string? Param = null)
{
    public static string TypeForStatus(int status) => status switch
    {
        >= 500 => "server_error",
        429 => "rate_limit_error",
        401 or 403 => "authentication_error",
        _ => "invalid_request_error",
    };
}

/// <summary>The latest completed response of a websocket connection: the only thing it can continue from.</summary>
internal sealed record Anchor(string ResponseId, int ContextTokens, int AssistantMessages);

/// <summary>One planned response: its frames (encoded once), its items and its usage.</summary>
internal sealed class Turn
{
    public required TurnKind Kind { get; init; }
    public required EventBatch Frames { get; init; }
    public string? ResponseId { get; init; }
    public string Model { get; init; } = "";
    public long CreatedAt { get; init; }

    /// <summary>Unix seconds at which the response completes (written only in its completed form).</summary>
    public long CompletedAt { get; set; }

    /// <summary>The request settings the response object repeats.</summary>
    public RequestEcho Echo { get; init; } = RequestEcho.Default;
    public IReadOnlyList<OutputItem> Items { get; init; } = [];
    public SimError? Error { get; init; }
    public int InputTokens { get; init; }
    public int CachedTokens { get; init; }
    public int OutputTokens { get; init; }
    public int ReasoningTokens { get; init; }
    public int AssistantMessagesAfter { get; init; }

    /// <summary>The same response without its encoded frames (what a store keeps: the frames of a long stream are large).</summary>
    public Turn WithoutFrames() => new()
    {
        Kind = Kind, Frames = EventBatch.Empty, ResponseId = ResponseId, Model = Model, CreatedAt = CreatedAt,
        CompletedAt = CompletedAt, Echo = Echo, Items = Items, Error = Error, InputTokens = InputTokens,
        CachedTokens = CachedTokens, OutputTokens = OutputTokens, ReasoningTokens = ReasoningTokens,
        AssistantMessagesAfter = AssistantMessagesAfter,
    };

    /// <summary>What the connection can continue from once this turn's response.completed is sent.</summary>
    public Anchor? NextAnchor => Kind == TurnKind.Completed && ResponseId is not null
        ? new Anchor(ResponseId, InputTokens + OutputTokens, AssistantMessagesAfter)
        : null;
}

/// <summary>How a fault (or the options) bends the delivery of a turn.</summary>
internal sealed class TurnEffects
{
    public TimeSpan FirstEventDelay { get; init; }
    public TimeSpan EventDelay { get; init; }

    /// <summary>The delays end on time (<see cref="SimulatorOptions.PreciseDelays"/>).</summary>
    public bool PreciseDelays { get; init; }

    /// <summary>Send only frames [0, StopBefore) and then close.</summary>
    public int? StopBefore { get; init; }

    /// <summary>Close right after the last frame (close between turns).</summary>
    public bool CloseAtEnd { get; init; }

    public bool Hang { get; init; }
    public bool Graceful { get; init; }

    /// <summary>End the response with this error frame before frame <see cref="ErrorAt"/>, and send that frame after it (WebSocket).</summary>
    public SimError? MidStreamError { get; init; }

    public int ErrorAt { get; init; }

    /// <summary>Send a frame of another response before this one (WebSocket).</summary>
    public bool StrayFrame { get; init; }

    /// <summary>Retry-After of an HTTP error answer.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
