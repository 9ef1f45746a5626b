namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// The request settings a response object repeats, with the provider's defaults for what the request left out.
/// Structured values are kept as the request's (or a normalised) JSON, so echoing them costs a copy, not a parse.
/// </summary>
internal sealed class RequestEcho
{
    public static readonly RequestEcho Default = new();

    /// <summary>Raw JSON of <c>instructions</c> (a string, or a list of input items); null = none.</summary>
    public byte[]? Instructions { get; set; }

    public long? MaxOutputTokens { get; set; }
    public long? MaxToolCalls { get; set; }
    public bool ParallelToolCalls { get; set; } = true;
    public string? PreviousResponseId { get; set; }
    public string? ReasoningEffort { get; set; }
    public string? ReasoningSummary { get; set; }

    /// <summary>What was served: a request for "auto" (or none) is served by the default tier.</summary>
    public string ServiceTier { get; set; } = "default";

    public bool Store { get; set; } = true;
    public bool Background { get; set; }
    public double Temperature { get; set; } = 1;
    public double TopP { get; set; } = 1;
    public double PresencePenalty { get; set; }
    public double FrequencyPenalty { get; set; }
    public int TopLogprobs { get; set; }

    /// <summary>Normalised <c>text.format</c>; null = <c>{"type":"text"}</c>.</summary>
    public byte[]? TextFormat { get; set; }

    public string Verbosity { get; set; } = "medium";

    /// <summary>Raw <c>tool_choice</c>; null = <c>"auto"</c>.</summary>
    public byte[]? ToolChoice { get; set; }

    /// <summary>The tools array, function tools normalised as the provider echoes them; null = <c>[]</c>.</summary>
    public byte[]? Tools { get; set; }

    public string Truncation { get; set; } = "disabled";
    public string? User { get; set; }

    /// <summary>Raw <c>metadata</c> object; null = <c>{}</c>.</summary>
    public byte[]? Metadata { get; set; }

    public string? PromptCacheKey { get; set; }
    public string? SafetyIdentifier { get; set; }
}
