namespace CodexLb.UpstreamSimulator;

/// <summary>Snapshot of one websocket connection (or refused upgrade attempt).</summary>
/// <param name="Id">1-based, increasing per simulator.</param>
/// <param name="Path">Request path of the upgrade.</param>
/// <param name="Fault">Label of the handshake fault that hit it, if any.</param>
public sealed record ConnectionRecord(
    long Id,
    string Path,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    bool HasAuthorization,
    string? Authorization,
    string? OpenAIBeta,
    int RequestCount,
    ConnectionEnd EndedBy,
    string? Fault);
