namespace CodexLb.UpstreamSimulator.Model;

/// <summary>The errors the simulator itself produces (faults bring their own).</summary>
internal static class SimErrors
{
    /// <summary>The exact shape the real service sends when an anchor is not this connection's latest response.</summary>
    public static SimError PreviousResponseNotFound(string id) =>
        new(400, "invalid_request_error", "previous_response_not_found", $"Previous response with id '{id}' not found.", "previous_response_id");

    /// <summary>A second response.create while one is in flight on the same socket.</summary>
    public static SimError ResponseInProgress() =>
        new(400, "invalid_request_error", "response_in_progress",
            "A response is already in progress on this connection. Wait for it to complete before sending another response.create.");

    public static SimError ConnectionLimitReached(TimeSpan lifetime) =>
        new(400, "invalid_request_error", "websocket_connection_limit_reached",
            $"Responses websocket connection limit reached ({lifetime.TotalMinutes:0.##} minutes). Create a new websocket connection to continue.");

    public static SimError InvalidJson(string detail) =>
        new(400, "invalid_request_error", "invalid_json", $"The request body is not valid JSON: {detail}");

    public static SimError UnsupportedEvent(string? type) =>
        new(400, "invalid_request_error", "unsupported_event_type", $"Unsupported event type '{type}'. Expected 'response.create'.", "type");

    /// <summary>An unknown (never stored, deleted or evicted) response id: the provider sends no code.</summary>
    public static SimError ResponseNotFound(string id) =>
        new(404, "invalid_request_error", null, $"Response with id '{id}' not found.");

    public static SimError NotCancellable() =>
        new(400, "invalid_request_error", null, "Only responses created with background=true can be cancelled.");

    public static SimError FromFault(Fault fault)
    {
        var status = fault.Status ?? 500;
        return new SimError(status, fault.ErrorType ?? SimError.TypeForStatus(status), fault.Code ?? "server_error",
            fault.Message ?? $"Simulated error ({fault.Code ?? "server_error"}).");
    }
}
