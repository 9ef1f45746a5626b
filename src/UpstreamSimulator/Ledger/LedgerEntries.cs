namespace CodexLb.UpstreamSimulator.Ledger;

// Mutable entries owned by SimulatorLedger; only touched under the ledger's lock (see SimulatorLedger.Update).

internal sealed class ConnectionEntry
{
    public long Id;
    public string Path = "";
    public DateTimeOffset OpenedAt;
    public DateTimeOffset? ClosedAt;
    public string? Authorization;
    public string? OpenAIBeta;
    public int RequestCount;
    public ConnectionEnd EndedBy;
    public string? Fault;

    public ConnectionRecord ToRecord() =>
        new(Id, Path, OpenedAt, ClosedAt, Authorization is not null, Authorization, OpenAIBeta, RequestCount, EndedBy, Fault);
}

internal sealed class RequestEntry
{
    public long Id;
    public long? ConnectionId;
    public int IndexOnConnection;
    public SimTransport Transport;
    public DateTimeOffset StartedAt;
    public DateTimeOffset? EndedAt;
    public string? Model;
    public string? PreviousResponseId;
    public bool? AnchorValid;
    public bool IsDelta;
    public int InputItemCount;
    public int NewInputTokens;
    public int ContextTokens;
    public int CachedTokens;
    public int OutputTokens;
    public string? ResponseId;
    public RequestOutcome Outcome;
    public string? ErrorCode;
    public int? ErrorStatus;
    public bool Generate = true;
    public int RequestBytes;
    public string? Fault;
    public string? Authorization;
    public RequestKind Kind;
    public string? Tag;

    public RequestRecord ToRecord() =>
        new(Id, ConnectionId, IndexOnConnection, Transport, StartedAt, EndedAt, Model, PreviousResponseId, AnchorValid,
            IsDelta, InputItemCount, NewInputTokens, ContextTokens, CachedTokens, OutputTokens, ResponseId, Outcome,
            ErrorCode, ErrorStatus, Generate, RequestBytes, Fault, Authorization, Kind, Tag);
}
