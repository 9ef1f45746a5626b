namespace CodexLb.UpstreamSimulator;

/// <summary>What a <see cref="Fault"/> does. Handshake kinds apply to the next websocket upgrade; all others to a request.</summary>
public enum FaultKind
{
    /// <summary>Send events [0, EventIndex) of the response, then close the socket (0 = close before response.created).</summary>
    CloseBeforeEvent,

    /// <summary>Send events [0, EventIndex], then close the socket.</summary>
    CloseAfterEvent,

    /// <summary>Complete the response normally, then close the socket right after response.completed.</summary>
    CloseBetweenTurns,

    /// <summary>Answer the websocket upgrade with HTTP <c>Status</c> (default 503), optional Retry-After and a JSON error body.</summary>
    RefuseHandshake,

    /// <summary>Accept the websocket upgrade, then close the socket at once.</summary>
    FailHandshake,

    /// <summary>Hold the websocket upgrade for <c>FirstEventDelay</c> (default 2 s) before accepting it (a slow connect).</summary>
    SlowHandshake,

    /// <summary>Instead of the response, send one error frame (HTTP: an error status with a JSON body). Default 500 server_error.</summary>
    ErrorFrame,

    /// <summary>Send response.created and response.in_progress, then <c>response.failed</c> with <c>Code</c> (default server_error).</summary>
    ResponseFailed,

    /// <summary>Never answer; the connection stays open (further requests on it get response_in_progress).</summary>
    Hang,

    /// <summary>Answer normally with the fault's latency parameters (FirstEventDelay, EventDelay, TextDeltas).</summary>
    Delay,

    /// <summary>
    /// WebSocket: send events [0, EventIndex), then an error frame (<c>Status</c>/<c>Code</c> as ErrorFrame) that ends the
    /// response, then, <c>EventDelay</c> later, event EventIndex of the failed response: a trailing frame that was already on
    /// its way. The connection stays open and takes the next request meanwhile. HTTP: answers normally.
    /// </summary>
    ErrorMidStream,

    /// <summary>
    /// WebSocket: before the response, a <c>response.completed</c> frame of another response (another id): a frame that
    /// belongs to no request in flight. HTTP: answers normally.
    /// </summary>
    StrayFrame,
}
