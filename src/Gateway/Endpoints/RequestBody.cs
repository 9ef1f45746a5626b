using System.IO.Pipelines;
using CodexLb.Protocol.Buffers;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// Reads a request body into rented memory (the caller disposes it once parsed: a long context is no large-object array
/// per request), refusing it (413) past the configured limit before buffering it all, and answering a body Kestrel gave
/// up on (too slow: 408, malformed or cut short: 400) with that status.
/// </summary>
public static class RequestBody
{
    /// <summary>The first buffer (pooled): a claimed Content-Length is not trusted with more before the bytes arrive.</summary>
    private const int InitialCapacity = 64 * 1024;

    // A small body is usually whole in the first read: the answer then needs no task.
    public static async ValueTask<(PooledBytes? Body, OpenAIError? Error)> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) return (null, ProxyErrors.RequestTooLarge(limit));
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            feature.MaxRequestBodySize = limit + 1;

        // Every read is consumed whole (copied out), never left examined-but-unconsumed: with a Content-Length body
        // Kestrel cannot reset its connection pipe after such a read, and a client that then closes mid-body makes it
        // log "Reading is already in progress" with a stack trace at Warning (dotnet/aspnetcore#52324), per connection.
        var body = new PooledBytes((int)Math.Min(request.ContentLength ?? InitialCapacity, InitialCapacity));
        var handedOver = false;
        try
        {
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
                    // Kestrel refused the body (too large, too slow, malformed chunking, cut short): the client's fault,
                    // answered with the status Kestrel chose, never a 500 with a stack trace.
                    return (null, GatewayErrors.ForBadRequest(ex, limit));
                }
                var buffer = result.Buffer;
                if (body.Length + buffer.Length > limit)
                {
                    reader.AdvanceTo(buffer.End);
                    return (null, ProxyErrors.RequestTooLarge(limit));
                }
                foreach (var segment in buffer) body.Write(segment.Span);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    handedOver = true;
                    return (body, null);
                }
            }
        }
        finally
        {
            if (!handedOver) body.Dispose(); // refused or thrown: the caller gets no body to return
        }
    }
}
