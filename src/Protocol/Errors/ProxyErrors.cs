namespace CodexLb.Protocol.Errors;

/// <summary>The errors the bridge itself produces, in one place so every host words them the same.</summary>
public static class ProxyErrors
{
    public static OpenAIError UpstreamUnavailable(string detail, int retryAfterSeconds = 1) =>
        new(502, ErrorCodes.UpstreamUnavailable, $"The model provider is unavailable ({detail}); retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = retryAfterSeconds };

    public static OpenAIError UpstreamTimeout() =>
        new(504, ErrorCodes.UpstreamRequestTimeout, "The model provider did not answer in time; retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    public static OpenAIError StreamIncomplete() =>
        new(502, ErrorCodes.StreamIncomplete, "The upstream stream ended before the response completed; retry the turn.", ErrorTypes.Server);

    public static OpenAIError OwnerUnreachable() =>
        new(503, ErrorCodes.OwnerUnreachable, "The conversation's owner is unreachable; retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    public static OpenAIError TurnLost() =>
        new(503, ErrorCodes.OwnerUnreachable, "The conversation's owner lost this turn after it started; retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    /// <summary>A background response whose owner was lost mid-generation: it will not complete; its turn must be sent again.</summary>
    public static OpenAIError ResponseInterrupted() =>
        new(503, ErrorCodes.OwnerUnreachable, "The response was interrupted before it completed (its owner was lost); send the turn again.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    /// <summary>A background response lost with its owner whose new runs were refused (no capacity, no usable account) for too long.</summary>
    public static OpenAIError ResponseNotRunAgain() =>
        new(503, ErrorCodes.OwnerUnreachable, "The response was interrupted before it completed (its owner was lost), and the bridge had no capacity to run it again for several minutes; send the turn again.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    public static OpenAIError TooManyConversations() =>
        new(429, ErrorCodes.RateLimitExceeded, "Too many new conversations for this API key; retry shortly, or continue an existing one.", ErrorTypes.RateLimit)
        { RetryAfterSeconds = 5 };

    public static OpenAIError Capacity() =>
        new(503, ErrorCodes.BridgeCapacity, "The bridge holds as many upstream connections as it may, all busy; retry shortly.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    /// <summary>The gateway holds as many client websockets as it may (CodexLb:Limits:WebSockets), all tenants together.</summary>
    public static OpenAIError GatewayWebSocketsFull() =>
        new(503, ErrorCodes.BridgeCapacity, "This gateway holds as many websockets as it may; retry, or use another.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    /// <summary>The tenant holds as many turns or websockets on this gateway as it may (CodexLb:Limits).</summary>
    public static OpenAIError TooManyConcurrentRequests() =>
        new(429, ErrorCodes.RateLimitExceeded, "Too many concurrent requests for this API key; retry shortly.", ErrorTypes.RateLimit)
        { RetryAfterSeconds = 1 };

    public static OpenAIError QueueFull() =>
        new(429, ErrorCodes.QueueFull, "Too many turns are queued for this conversation; retry shortly.", ErrorTypes.RateLimit)
        { RetryAfterSeconds = 1 };

    public static OpenAIError DrainActive() =>
        new(503, ErrorCodes.DrainActive, "This instance is shutting down; retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    public static OpenAIError PreviousResponseNotFound(string id) =>
        new(400, ErrorCodes.PreviousResponseNotFound, $"Previous response with id '{id}' not found.", ErrorTypes.InvalidRequest, "previous_response_id");

    public static OpenAIError PreviousResponseExpired(string id) =>
        new(400, ErrorCodes.PreviousResponseNotFound,
            $"Previous response with id '{id}' has expired: this bridge keeps responses for a limited time after their last use (CodexLb:State:Retention).",
            ErrorTypes.InvalidRequest, "previous_response_id");

    /// <summary>
    /// The previous response was started (its id reached the client in <c>response.created</c>) but has not completed: it
    /// failed, or its owner died mid-turn (a running one is waited for). Never a 400: the id is ours and the client did
    /// nothing wrong. Retrying is safe; a client that wants to go on now continues from the response before it.
    /// </summary>
    public static OpenAIError PreviousResponseIncomplete(string id) =>
        new(409, ErrorCodes.PreviousResponseIncomplete,
            $"Previous response with id '{id}' did not complete (it failed or was interrupted), so it cannot be continued yet; retry, or continue from the response before it.",
            ErrorTypes.InvalidRequest, "previous_response_id")
        { RetryAfterSeconds = 1 };

    /// <summary>The previous response was lost with its owner and runs again: the bridge's own failure, so a 5xx every SDK retries.</summary>
    public static OpenAIError PreviousResponseRecovering(string id) =>
        new(503, ErrorCodes.PreviousResponseIncomplete,
            $"Previous response with id '{id}' was interrupted with its owner and is running again; retry, and this turn continues it once it completed.",
            ErrorTypes.Server, "previous_response_id")
        { RetryAfterSeconds = 1 };

    public static OpenAIError ResponseCancelled() =>
        new(400, ErrorCodes.ResponseCancelled, "The response was cancelled (POST /responses/{id}/cancel).", ErrorTypes.InvalidRequest);

    /// <summary>The Responses API cancels only what was created with <c>background: true</c>; a foreground response is the client's own stream to close.</summary>
    public static OpenAIError CannotCancelSynchronous(string id) =>
        InvalidRequest($"Cannot cancel a synchronous response: '{id}' was not created with background=true, and only such a response can be cancelled.");

    /// <summary>Only a background response's events are kept to be streamed again; a foreground one went to its own client.</summary>
    public static OpenAIError CannotStreamSynchronous(string id) =>
        InvalidRequest($"Cannot stream a synchronous response again: '{id}' was not created with background=true, and only such a response can be streamed from its id. Retrieve it without 'stream'.", "stream");

    /// <summary>What a response only has once it is over (a foreground one's input items), asked of it while it runs: retry after it.</summary>
    public static OpenAIError ResponseInProgress(string id) =>
        new(409, ErrorCodes.ResponseInProgress, $"Response with id '{id}' is still in progress; its input items can be listed once it completed.", ErrorTypes.InvalidRequest)
        { RetryAfterSeconds = 1 };

    public static OpenAIError ResponseNotFound(string id, string? why = null) =>
        new(404, ErrorCodes.NotFound, why is null ? $"Response with id '{id}' not found." : $"Response with id '{id}' not found: {why}",
            ErrorTypes.InvalidRequest);

    public static OpenAIError ConversationNotFound(string id) =>
        new(404, ErrorCodes.NotFound, $"Conversation with id '{id}' not found.", ErrorTypes.InvalidRequest);

    public static OpenAIError ConversationItemNotFound(string conversationId, string itemId) =>
        new(404, ErrorCodes.NotFound, $"Item with id '{itemId}' not found in conversation '{conversationId}'.", ErrorTypes.InvalidRequest);

    public static OpenAIError InvalidRequest(string message, string? param = null) =>
        new(400, ErrorCodes.InvalidRequest, message, ErrorTypes.InvalidRequest, param);

    public static OpenAIError InvalidJson(string message) =>
        new(400, ErrorCodes.InvalidJson, message, ErrorTypes.InvalidRequest);

    /// <summary>Invalid UTF-8 or an escaped lone surrogate: the request can never be forwarded, so it is never retried.</summary>
    public static OpenAIError InvalidEncoding(string message, string? param = null) =>
        new(400, ErrorCodes.InvalidEncoding, message, ErrorTypes.InvalidRequest, param);

    public static OpenAIError UnsupportedFrameType(string message) =>
        new(400, ErrorCodes.UnsupportedFrameType, message, ErrorTypes.InvalidRequest, "type");

    /// <summary>The client sent its body too slowly (Kestrel's minimum request body data rate); it may send it again.</summary>
    public static OpenAIError RequestTimeout() =>
        new(408, ErrorCodes.RequestTimeout, "The request body was not received in time.", ErrorTypes.InvalidRequest);

    public static OpenAIError RouteNotFound(string method, string path) =>
        new(404, ErrorCodes.NotFound, $"Unknown route: {method} {path}.", ErrorTypes.InvalidRequest);

    /// <summary>
    /// A <c>conversation</c> where this bridge does not run one: a forwarded body (input token counting, compaction), or a
    /// background response, whose items nobody would add after it ends here.
    /// </summary>
    public static OpenAIError ConversationParameterUnsupported(string param) => new(400, ErrorCodes.InvalidRequest,
        "On this bridge a response runs in a conversation only in the foreground (not with background=true), and input " +
        "token counting and compaction take no conversation. Send the conversation's items as input instead (GET " +
        "/v1/conversations/{id}/items lists them), or continue with previous_response_id.",
        ErrorTypes.InvalidRequest, param);

    public static OpenAIError MethodNotAllowed(string method, string path, string? allowed) =>
        new(405, ErrorCodes.MethodNotAllowed,
            string.IsNullOrEmpty(allowed) ? $"Method {method} is not allowed on {path}." : $"Method {method} is not allowed on {path}; use {allowed}.",
            ErrorTypes.InvalidRequest);

    public static OpenAIError InvalidApiKey() =>
        new(401, ErrorCodes.InvalidApiKey, "Incorrect or missing API key.", ErrorTypes.Authentication);

    public static OpenAIError RequestTooLarge(long limit) =>
        new(413, ErrorCodes.RequestTooLarge, $"The request body exceeds {limit} bytes.", ErrorTypes.InvalidRequest);

    public static OpenAIError RequestHeadersTooLarge(int maxBytes, int maxCount) =>
        new(431, ErrorCodes.RequestHeadersTooLarge, $"The request headers exceed {maxBytes} bytes or {maxCount} fields.", ErrorTypes.InvalidRequest);

    public static OpenAIError UriTooLong(int limit) =>
        new(414, ErrorCodes.UriTooLong, $"The request line (method, path and query string) exceeds {limit} bytes.", ErrorTypes.InvalidRequest);

    public static OpenAIError Internal() =>
        new(500, ErrorCodes.ServerError, "The bridge failed to process the request; retry it.", ErrorTypes.Server) { RetryAfterSeconds = 1 };
}
