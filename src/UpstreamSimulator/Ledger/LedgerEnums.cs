namespace CodexLb.UpstreamSimulator;

public enum SimTransport
{
    WebSocket,
    Http,
}

/// <summary>How a websocket connection ended.</summary>
public enum ConnectionEnd
{
    /// <summary>Still open.</summary>
    Open,

    /// <summary>The client sent a close frame.</summary>
    ClientClosed,

    /// <summary>The client went away without a close frame.</summary>
    ClientAborted,

    /// <summary>The simulator closed it for a non-fault reason (lifetime limit, shutdown).</summary>
    ServerClosed,

    /// <summary>An injected fault closed it (including accept-then-fail handshakes).</summary>
    ClosedByFault,

    /// <summary>The upgrade was refused with an HTTP status (a RefuseHandshake fault).</summary>
    HandshakeRefused,
}

public enum RequestOutcome
{
    InFlight,
    Completed,

    /// <summary>An error frame (websocket) or error status (HTTP) was sent; see ErrorCode/ErrorStatus.</summary>
    Error,

    /// <summary>The response ended with response.failed; see ErrorCode.</summary>
    Failed,

    /// <summary>A fault closed the connection before response.completed.</summary>
    ClosedByFault,

    /// <summary>The client went away before the response finished.</summary>
    Aborted,

    /// <summary>A background response cancelled through <c>POST /responses/{id}/cancel</c> (or deleted) before it finished.</summary>
    Cancelled,
}

/// <summary>Which operation of the responses API a ledger request was.</summary>
public enum RequestKind
{
    /// <summary>Create a response (websocket response.create or HTTP POST /responses).</summary>
    Create,

    /// <summary>GET /responses/{id}.</summary>
    Retrieve,

    /// <summary>DELETE /responses/{id}.</summary>
    Delete,

    /// <summary>POST /responses/{id}/cancel.</summary>
    Cancel,

    /// <summary>GET /responses/{id}/input_items.</summary>
    InputItems,

    /// <summary>POST /responses/input_tokens.</summary>
    InputTokens,

    /// <summary>POST /responses/compact.</summary>
    Compact,
}
