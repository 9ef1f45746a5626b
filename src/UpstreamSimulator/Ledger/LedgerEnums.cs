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
}
