using System.Text.Json.Serialization;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// One injected fault: a kind, a target (all target properties that are set must match) and parameters.
/// One-shot by default (<see cref="Count"/> = 1; <see cref="int.MaxValue"/> = forever). A fault with no target
/// hits the next request (or, for handshake kinds, the next connection). Latency parameters may be set on any
/// request kind and override <see cref="SimulatorOptions"/> for the request they hit.
/// On the wire (POST /_sim/faults) properties are camelCase, kinds are names (case-insensitive), durations are milliseconds.
/// </summary>
public sealed record Fault(FaultKind Kind)
{
    /// <summary>How many times this fault fires before it is used up.</summary>
    public int Count { get; init; } = 1;

    // ---- target ----

    /// <summary>Only requests on this websocket connection (see <see cref="ConnectionRecord.Id"/>).</summary>
    public long? ConnectionId { get; init; }

    /// <summary>Only the Nth request (1-based) of a connection; HTTP requests are always index 1.</summary>
    public int? RequestIndex { get; init; }

    /// <summary>Only requests whose newest user message text contains this (ordinal).</summary>
    public string? TextContains { get; init; }

    /// <summary>Only requests over this transport.</summary>
    public SimTransport? Transport { get; init; }

    // ---- parameters ----

    /// <summary>Event index (= sequence_number) for CloseBeforeEvent / CloseAfterEvent / ErrorMidStream.</summary>
    public int EventIndex { get; init; }

    /// <summary>HTTP status for RefuseHandshake (default 503), ErrorFrame and ErrorMidStream (default 500).</summary>
    public int? Status { get; init; }

    /// <summary>Error code for ErrorFrame / ErrorMidStream / ResponseFailed / RefuseHandshake.</summary>
    public string? Code { get; init; }

    public string? Message { get; init; }

    /// <summary>error.type of an ErrorFrame (default derived from the status).</summary>
    public string? ErrorType { get; init; }

    /// <summary>Retry-After header of a RefuseHandshake (or HTTP ErrorFrame), rounded up to whole seconds.</summary>
    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? RetryAfter { get; init; }

    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? FirstEventDelay { get; init; }

    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? EventDelay { get; init; }

    public int? TextDeltas { get; init; }

    /// <summary>Close with a websocket close frame (1011) instead of aborting the TCP connection.</summary>
    public bool Graceful { get; init; }

    [JsonIgnore]
    public bool IsHandshakeFault => Kind is FaultKind.RefuseHandshake or FaultKind.FailHandshake or FaultKind.SlowHandshake;

    public static Fault CloseBefore(int eventIndex) => new(FaultKind.CloseBeforeEvent) { EventIndex = eventIndex };

    public static Fault CloseAfter(int eventIndex) => new(FaultKind.CloseAfterEvent) { EventIndex = eventIndex };

    public static Fault CloseBetweenTurns() => new(FaultKind.CloseBetweenTurns);

    public static Fault RefuseHandshake(int status = 503, TimeSpan? retryAfter = null, string? code = null) =>
        new(FaultKind.RefuseHandshake) { Status = status, RetryAfter = retryAfter, Code = code };

    public static Fault FailHandshake() => new(FaultKind.FailHandshake);

    public static Fault SlowHandshake(TimeSpan delay) => new(FaultKind.SlowHandshake) { FirstEventDelay = delay };

    public static Fault Error(int status = 500, string code = "server_error", string? message = null) =>
        new(FaultKind.ErrorFrame) { Status = status, Code = code, Message = message };

    public static Fault Failed(string code = "server_error", string? message = null) =>
        new(FaultKind.ResponseFailed) { Code = code, Message = message };

    public static Fault Hang() => new(FaultKind.Hang);

    public static Fault ErrorMidStream(int eventIndex, TimeSpan trailingDelay, int status = 500, string code = "server_error") =>
        new(FaultKind.ErrorMidStream) { EventIndex = eventIndex, EventDelay = trailingDelay, Status = status, Code = code };

    public static Fault StrayFrame() => new(FaultKind.StrayFrame);

    public static Fault Delay(TimeSpan firstEventDelay, TimeSpan eventDelay) =>
        new(FaultKind.Delay) { FirstEventDelay = firstEventDelay, EventDelay = eventDelay };

    public Fault OnConnection(long connectionId, int? requestIndex = null) =>
        this with { ConnectionId = connectionId, RequestIndex = requestIndex ?? RequestIndex };

    public Fault OnRequest(int requestIndex) => this with { RequestIndex = requestIndex };

    public Fault WhenTextContains(string text) => this with { TextContains = text };

    public Fault Over(SimTransport transport) => this with { Transport = transport };

    public Fault Times(int count) => this with { Count = count };

    public Fault Forever() => this with { Count = int.MaxValue };

    /// <summary>Short label stored in the ledger.</summary>
    internal string Describe() => Kind switch
    {
        FaultKind.CloseBeforeEvent or FaultKind.CloseAfterEvent => $"{Kind}({EventIndex})",
        FaultKind.ErrorFrame or FaultKind.RefuseHandshake => $"{Kind}({Status}/{Code})",
        FaultKind.ErrorMidStream => $"{Kind}({EventIndex}/{Status}/{Code})",
        FaultKind.ResponseFailed => $"{Kind}({Code})",
        _ => Kind.ToString(),
    };
}
