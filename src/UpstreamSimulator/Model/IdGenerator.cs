using System.Security.Cryptography;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// Ids unique across connections and across simulator instances (a random per-host tag), so an id issued on one
/// connection or by one simulator is never accidentally "known" elsewhere.
/// </summary>
internal sealed class IdGenerator
{
    private readonly string _tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private long _next;
    private long _connections;

    public string Next(string prefix) => $"{prefix}_sim{_tag}{Interlocked.Increment(ref _next):x8}";

    public long NextConnectionId() => Interlocked.Increment(ref _connections);
}
