namespace CodexLb.UpstreamSimulator;

/// <summary>Snapshot of one response.create frame or HTTP create request.</summary>
/// <param name="Id">1-based, increasing per simulator.</param>
/// <param name="ConnectionId">The websocket connection; null for plain HTTP.</param>
/// <param name="IndexOnConnection">1-based position of the request on its connection (always 1 for HTTP).</param>
/// <param name="PreviousResponseId">The previous_response_id sent, if any.</param>
/// <param name="AnchorValid">Null without previous_response_id; otherwise whether it was the connection's latest completed response.</param>
/// <param name="IsDelta">True when the request was validly anchored (input holds only the new items).</param>
/// <param name="NewInputTokens">Tokens of the input items this request carried.</param>
/// <param name="ContextTokens">usage.input_tokens: anchored context + new input (0 when no response was produced).</param>
/// <param name="CachedTokens">usage.input_tokens_details.cached_tokens: the anchored context.</param>
/// <param name="OutputTokens">usage.output_tokens.</param>
/// <param name="ErrorCode">Error code of an Error/Failed outcome.</param>
/// <param name="Fault">Label of the fault that hit the request: the kind, or the in-band directive string.</param>
/// <param name="Authorization">Authorization header (the websocket handshake's, or the HTTP request's).</param>
/// <param name="Kind">The operation: a create, or one of the HTTP calls on stored responses, input_tokens, compact.</param>
/// <param name="Tag">The request's <c>metadata.sim_tag</c>, if any: which of a test's requests this was.</param>
public sealed record RequestRecord(
    long Id,
    long? ConnectionId,
    int IndexOnConnection,
    SimTransport Transport,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    string? Model,
    string? PreviousResponseId,
    bool? AnchorValid,
    bool IsDelta,
    int InputItemCount,
    int NewInputTokens,
    int ContextTokens,
    int CachedTokens,
    int OutputTokens,
    string? ResponseId,
    RequestOutcome Outcome,
    string? ErrorCode,
    int? ErrorStatus,
    bool Generate,
    int RequestBytes,
    string? Fault,
    string? Authorization,
    RequestKind Kind = RequestKind.Create,
    string? Tag = null);
