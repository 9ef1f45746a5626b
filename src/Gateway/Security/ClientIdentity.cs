using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Keys;

namespace CodexLb.Gateway.Security;

/// <summary>
/// Authenticates a request's bearer token against the configured keys (<see cref="ClientKeyStore"/>, hashes only,
/// compared in constant time) and says who it is: the key, its tenant, its limits. The token itself never leaves this class.
/// </summary>
public sealed class ClientAuthenticator(ClientKeyStore keys)
{
    /// <summary>The caller's key, or null when keys are configured and the caller's is missing or wrong.</summary>
    public ClientKey? Identify(string? authorizationHeader)
    {
        var token = authorizationHeader is { } h && h.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? h[7..].Trim() : null;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token ?? ""), hash);
        return keys.Find(hash, token is not null);
    }

    /// <summary>The caller's tenant, or null when keys are configured and the caller's is missing or wrong.</summary>
    public string? Authenticate(string? authorizationHeader) => Identify(authorizationHeader)?.Tenant;
}
