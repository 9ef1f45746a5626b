using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace CodexLb.Grains.Upstream.WebSockets;

/// <summary>The provider refused the upgrade (or never answered: <see cref="Status"/> 0).</summary>
internal sealed class WebSocketHandshakeException(int status, HttpResponseHeaders? headers, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public int Status { get; } = status;
    public HttpResponseHeaders? Headers { get; } = headers;
}

/// <summary>
/// The opening handshake of RFC 6455 4.1, sent through <see cref="SocketsHttpHandler"/> (connection, TLS and proxies are
/// the framework's, as under <c>ClientWebSocket</c>). A 101 answer hands back the connection's raw duplex stream.
/// </summary>
internal static class WebSocketHandshake
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    // One handler for every upstream socket, set up as the framework's websocket sets up its own: an upgraded connection
    // leaves the pool, and one that answered anything else is not kept for another handshake.
    private static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.Zero,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
    });

    public static async Task<(Stream Stream, HttpResponseHeaders Headers)> ConnectAsync(
        Uri uri, IEnumerable<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        using var request = new HttpRequestMessage(HttpMethod.Get, HttpUriFor(uri))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", key);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);

        HttpResponseMessage response;
        try
        {
            response = await Invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new WebSocketHandshakeException(0, null, "The provider could not be reached.", ex);
        }
        try
        {
            if (response.StatusCode != HttpStatusCode.SwitchingProtocols)
                throw new WebSocketHandshakeException((int)response.StatusCode, response.Headers, $"The provider answered the upgrade with {(int)response.StatusCode}.");
            if (!response.Headers.Upgrade.Any(u => u.Name.Equals("websocket", StringComparison.OrdinalIgnoreCase))
                || !response.Headers.Connection.Any(c => c.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)))
                throw new WebSocketHandshakeException(0, response.Headers, "The provider's 101 did not upgrade to a websocket.");
            if (!response.Headers.TryGetValues("Sec-WebSocket-Accept", out var accept) || accept.SingleOrDefault() != AcceptFor(key))
                throw new WebSocketHandshakeException(0, response.Headers, "The provider's 101 carried a wrong Sec-WebSocket-Accept.");
            if (response.Headers.Contains("Sec-WebSocket-Extensions") || response.Headers.Contains("Sec-WebSocket-Protocol"))
                throw new WebSocketHandshakeException(0, response.Headers, "The provider's 101 chose an extension or subprotocol nobody asked for.");
            return (await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), response.Headers);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    internal static string AcceptFor(string key) => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    private static Uri HttpUriFor(Uri uri)
    {
        var builder = new UriBuilder(uri);
        builder.Scheme = builder.Scheme switch { "wss" => "https", "ws" => "http", var s => s };
        return builder.Uri;
    }
}
