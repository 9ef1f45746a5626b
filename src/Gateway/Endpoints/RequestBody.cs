using System.Buffers;
using System.IO.Pipelines;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// Reads a request body into one array, refusing it (413) past the configured limit before buffering it all, and
/// answering a body Kestrel gave up on (too slow: 408, malformed: 400) with that status.
/// </summary>
public static class RequestBody
{
    public static async Task<(byte[]? Body, OpenAIError? Error)> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) return (null, ProxyErrors.RequestTooLarge(limit));
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            feature.MaxRequestBodySize = limit + 1;

        var reader = request.BodyReader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(cancellationToken);
            }
            catch (BadHttpRequestException ex)
            {
                // Kestrel refused the body (too large, too slow, malformed chunking): the client's fault, answered
                // with the status Kestrel chose, never a 500 with a stack trace.
                return (null, GatewayErrors.ForBadRequest(ex, limit));
            }
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                return (null, ProxyErrors.RequestTooLarge(limit));
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                var body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return (body, null);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
