namespace CodexLb.Protocol.Errors;

/// <summary>The error codes this bridge emits. Retryable ones are proxy-side and transient.</summary>
public static class ErrorCodes
{
    public const string PreviousResponseNotFound = "previous_response_not_found";
    public const string PreviousResponseIncomplete = "previous_response_incomplete";
    public const string InvalidJson = "invalid_json";
    public const string InvalidRequest = "invalid_request";
    public const string InvalidEncoding = "invalid_encoding";
    public const string UnsupportedFrameType = "unsupported_event_type";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string RequestTimeout = "request_timeout";
    public const string InvalidApiKey = "invalid_api_key";
    public const string RequestTooLarge = "request_too_large";
    public const string RequestHeadersTooLarge = "request_headers_too_large";
    public const string UriTooLong = "uri_too_long";
    public const string UpstreamUnavailable = "upstream_unavailable";
    public const string UpstreamRequestTimeout = "upstream_request_timeout";
    public const string StreamIncomplete = "stream_incomplete";
    public const string OwnerUnreachable = "bridge_owner_unreachable";
    public const string QueueFull = "bridge_queue_full";
    public const string DrainActive = "bridge_drain_active";
    public const string BridgeCapacity = "bridge_capacity";
    public const string ServerError = "server_error";
    public const string RateLimitExceeded = "rate_limit_exceeded";
    public const string ContextLengthExceeded = "context_length_exceeded";
    public const string NotFound = "not_found";
    public const string UpgradeRequired = "websocket_not_enabled";
    public const string ResponseCancelled = "response_cancelled";
    public const string ResponseInProgress = "response_in_progress";

    /// <summary>Codes a client may retry: the Codex CLI retries <c>response.failed</c> with these (and unknown codes).</summary>
    public static bool IsRetryable(string? code) => code switch
    {
        ContextLengthExceeded or "insufficient_quota" or "invalid_prompt" or PreviousResponseNotFound
            or InvalidRequest or InvalidJson or InvalidEncoding or UnsupportedFrameType or InvalidApiKey or RequestTooLarge
            or RequestHeadersTooLarge or UriTooLong or NotFound or MethodNotAllowed or ResponseCancelled => false,
        _ => true,
    };
}
