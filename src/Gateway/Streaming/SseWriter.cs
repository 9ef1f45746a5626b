using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Gateway.Streaming;

/// <summary>Frames relayed event payloads as server-sent events, straight into the response pipe (no copies of the payload).</summary>
public static class SseWriter
{
    /// <summary>
    /// Starts an SSE answer: 200, the event-stream headers (no proxy buffering), and the pipe to write events to. The
    /// headers are committed before the first event (not sent: the first flush carries both), so events are framed
    /// straight into the connection's pipe; written before the headers, each went into a leased block first and was
    /// copied once more when the headers went out. Everything the answer writes goes through the returned writer.
    /// </summary>
    public static async ValueTask<PipeBlockWriter> StartAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync();
        return new PipeBlockWriter(response.BodyWriter);
    }

    /// <summary>
    /// Ends the answer: the events still buffered and the end of the chunked body go out in one write. A flush here and
    /// then the host's own end of the response were two sends per turn, each waking the socket's sender.
    /// </summary>
    public static Task EndAsync(HttpContext context, PipeBlockWriter writer)
    {
        writer.Commit();
        return context.Response.CompleteAsync();
    }

    public static void WriteEvent(IBufferWriter<byte> writer, string type, ReadOnlySpan<byte> data)
    {
        var span = writer.GetSpan(EventLength(type, data));
        writer.Advance(Frame(span, type, data));
    }

    private static int EventLength(string type, ReadOnlySpan<byte> data) =>
        7 + System.Text.Encoding.UTF8.GetByteCount(type) + 7 + data.Length + 2;

    /// <summary>Frames one event (<c>event: type</c>, <c>data: payload</c>, a blank line) at the start of <paramref name="span"/>.</summary>
    private static int Frame(Span<byte> span, string type, ReadOnlySpan<byte> data)
    {
        "event: "u8.CopyTo(span);
        var written = 7 + System.Text.Encoding.UTF8.GetBytes(type, span[7..]);
        "\ndata: "u8.CopyTo(span[written..]);
        written += 7;
        data.CopyTo(span[written..]);
        written += data.Length;
        "\n\n"u8.CopyTo(span[written..]);
        return written + 2;
    }

    public static void WriteComment(IBufferWriter<byte> writer, ReadOnlySpan<byte> text)
    {
        var span = writer.GetSpan(text.Length + 4);
        ": "u8.CopyTo(span);
        text.CopyTo(span[2..]);
        "\n\n"u8.CopyTo(span[(2 + text.Length)..]);
        writer.Advance(text.Length + 4);
    }
}
