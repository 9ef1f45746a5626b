namespace CodexLb.UpstreamSimulator.Faults;

/// <summary>What a request fault is matched against.</summary>
internal readonly record struct FaultContext(long? ConnectionId, int IndexOnConnection, SimTransport Transport, string? LatestUserText);

/// <summary>A fault chosen for one request or handshake, with the label the ledger records.</summary>
internal sealed record AppliedFault(Fault Fault, string Label);
