namespace CodexLb.Grains.Upstream;

/// <summary>One event frame from the provider: its type and the payload exactly as received.</summary>
public readonly record struct UpstreamEvent(string Type, byte[] Data);
