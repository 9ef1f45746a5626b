using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Security;

/// <summary>
/// Authenticates a request's bearer token and derives its tenant: a hash of the key, so conversations of two keys
/// never meet and the key itself never leaves this class.
/// </summary>
public sealed class ClientAuthenticator
{
    private readonly byte[][] _allowed;

    public ClientAuthenticator(IOptions<GatewayOptions> options) =>
        _allowed = [.. options.Value.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];

    /// <summary>The caller's tenant, or null when keys are configured and the caller's is missing or wrong.</summary>
    public string? Authenticate(string? authorizationHeader)
    {
        var token = authorizationHeader is { } h && h.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? h[7..].Trim() : null;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token ?? ""), hash);
        if (_allowed.Length > 0)
        {
            // Constant time: every configured key is compared, whatever matched earlier.
            var match = false;
            foreach (var allowed in _allowed) match |= CryptographicOperations.FixedTimeEquals(hash, allowed);
            if (!match || token is null) return null;
        }
        return token is null ? "anon" : Convert.ToHexStringLower(hash[..8]);
    }
}
