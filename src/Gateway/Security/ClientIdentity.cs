using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Keys;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Security;

/// <summary>
/// Authenticates a request's bearer token against the configured keys (<see cref="ClientKeyStore"/>, hashes only,
/// compared in constant time) and says who it is: the key, its tenant, its limits. The token itself never leaves this class.
/// </summary>
public sealed class ClientAuthenticator(ClientKeyStore keys)
{
    private const int MaxStackTokenBytes = 256;

    /// <summary>
    /// The caller of <paramref name="context"/>: as <see cref="Identify(string?)"/>, remembered on an HTTP/1.x connection
    /// for its next requests while they send the same header (compared in constant time) and the keys stay the same: the
    /// rate limiter and the endpoint both ask, and a client sends every turn of a session over one connection. HTTP/2
    /// streams share a connection concurrently, so they are not remembered.
    /// </summary>
    public ClientKey? Identify(HttpContext context)
    {
        string? header = context.Request.Headers.Authorization;
        var connection = HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)
            ? context.Features.Get<IConnectionItemsFeature>()?.Items : null;
        var generation = keys.Generation;
        if (connection is not null && connection.TryGetValue(typeof(ConnectionIdentity), out var remembered)
            && remembered is ConnectionIdentity known && known.Matches(header, generation))
            return known.Key;
        var key = Identify(header);
        if (connection is not null) connection[typeof(ConnectionIdentity)] = new ConnectionIdentity(header, generation, key);
        return key;
    }

    /// <summary>The caller's key, or null when keys are configured and the caller's is missing or wrong.</summary>
    public ClientKey? Identify(string? authorizationHeader)
    {
        var bearer = authorizationHeader is { } h && h.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
        var token = bearer ? authorizationHeader.AsSpan(7).Trim() : default;
        var length = Encoding.UTF8.GetMaxByteCount(token.Length);
        byte[]? rented = length > MaxStackTokenBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> bytes = rented is not null ? rented : stackalloc byte[MaxStackTokenBytes];
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes[..Encoding.UTF8.GetBytes(token, bytes)], hash);
        if (rented is not null)
        {
            CryptographicOperations.ZeroMemory(rented);
            ArrayPool<byte>.Shared.Return(rented);
        }
        return keys.Find(hash, bearer);
    }

    /// <summary>The caller's tenant, or null when keys are configured and the caller's is missing or wrong.</summary>
    public string? Authenticate(HttpContext context) => Identify(context)?.Tenant;

    /// <inheritdoc cref="Authenticate(HttpContext)"/>
    public string? Authenticate(string? authorizationHeader) => Identify(authorizationHeader)?.Tenant;

    /// <summary>What a connection's last request authenticated as.</summary>
    private sealed class ConnectionIdentity(string? header, object generation, ClientKey? key)
    {
        public ClientKey? Key => key;

        public bool Matches(string? other, object current) =>
            ReferenceEquals(generation, current) && (header is null ? other is null
                : other is not null && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(header.AsSpan()), MemoryMarshal.AsBytes(other.AsSpan())));
    }
}
