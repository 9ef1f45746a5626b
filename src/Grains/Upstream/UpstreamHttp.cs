using System.Net.Http.Headers;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// The provider's HTTP API (<c>{BaseUrl}/responses/…</c>) for what the websocket does not carry, with the credentials of
/// an account (<see cref="AccountLease"/>: the conversation's, when the call continues one). Not retried here: a compaction
/// is a paid generation, and the client decides.
/// </summary>
public sealed class UpstreamHttp(HttpClient http, IOptions<UpstreamOptions> options)
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public async Task<ApiReply> PostAsync(AccountLease lease, string relativePath, byte[] body, CancellationToken cancellationToken)
    {
        var configured = lease.BaseUrl is { } leaseUrl ? new Uri(leaseUrl) : options.Value.BaseUrl;
        var baseUrl = new UriBuilder(configured) { Scheme = configured.Scheme switch { "wss" => "https", "ws" => "http", var s => s } }.Uri;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + "/" + relativePath))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = Json } },
        };
        if (!string.IsNullOrEmpty(lease.Token)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", lease.Token);
        if (!string.IsNullOrEmpty(lease.AccountId)) request.Headers.TryAddWithoutValidation("chatgpt-account-id", lease.AccountId);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (status >= 500) return Reply(ProxyErrors.UpstreamUnavailable($"HTTP {status}"));
            if (status is 404 or 405 && !IsOpenAIError(bytes))
                return Reply(new OpenAIError(404, ErrorCodes.NotFound, $"The model provider does not offer POST /{relativePath}.", ErrorTypes.InvalidRequest));
            // The provider refused the request itself: the client's 4xx, OpenAI-shaped even when the provider's body is not.
            if (status >= 400 && !IsOpenAIError(bytes))
                return Reply(new OpenAIError(status, "upstream_rejected", $"The model provider refused the request (HTTP {status}).", ErrorTypes.InvalidRequest)
                    { RetryAfterSeconds = RetryAfterSeconds(response.Headers) });
            return new ApiReply(status, bytes, RetryAfterSeconds(response.Headers));
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Reply(ProxyErrors.UpstreamTimeout());
        }
        catch (HttpRequestException ex)
        {
            return Reply(ProxyErrors.UpstreamUnavailable(ex.HttpRequestError.ToString()));
        }
    }

    public static ApiReply Reply(OpenAIError error) => new(error.Status, error.ToJsonBytes(), error.RetryAfterSeconds);

    /// <summary>The provider's <c>Retry-After</c> in whole seconds (an HTTP answer's, or a refused websocket upgrade's).</summary>
    internal static int? RetryAfterSeconds(HttpResponseHeaders? headers) =>
        headers?.RetryAfter?.Delta is { } delta ? (int)Math.Ceiling(delta.TotalSeconds) : null;

    private static bool IsOpenAIError(byte[] body) => body.Length > 0 && body.AsSpan().IndexOf("\"error\""u8) >= 0;
}
