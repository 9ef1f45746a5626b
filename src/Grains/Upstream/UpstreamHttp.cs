using System.Net.Http.Headers;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// The provider's HTTP API (<c>{BaseUrl}/responses/…</c>) for what the websocket does not carry, with the same
/// credentials as the sockets. Not retried here: a compaction is a paid generation, and the client decides.
/// </summary>
public sealed class UpstreamHttp(HttpClient http, IOptions<UpstreamOptions> options)
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public async Task<ApiReply> PostAsync(string relativePath, byte[] body, CancellationToken cancellationToken)
    {
        var upstream = options.Value;
        var baseUrl = new UriBuilder(upstream.BaseUrl) { Scheme = upstream.BaseUrl.Scheme switch { "wss" => "https", "ws" => "http", var s => s } }.Uri;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + "/" + relativePath))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = Json } },
        };
        if (!string.IsNullOrEmpty(upstream.ApiKey)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", upstream.ApiKey);
        if (!string.IsNullOrEmpty(upstream.AccountId)) request.Headers.TryAddWithoutValidation("chatgpt-account-id", upstream.AccountId);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (status >= 500) return Reply(ProxyErrors.UpstreamUnavailable($"HTTP {status}"));
            if (status is 404 or 405 && !IsOpenAIError(bytes))
                return Reply(new OpenAIError(404, ErrorCodes.NotFound, $"The model provider does not offer POST /{relativePath}.", ErrorTypes.InvalidRequest));
            int? retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int)Math.Ceiling(delta.TotalSeconds) : null;
            return new ApiReply(status, bytes, retryAfter);
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

    private static bool IsOpenAIError(byte[] body) => body.Length > 0 && body.AsSpan().IndexOf("\"error\""u8) >= 0;
}
