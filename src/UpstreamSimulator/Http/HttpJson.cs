using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>Request bodies in, JSON bodies out.</summary>
internal static class HttpJson
{
    public static async Task WriteAsync(HttpContext http, ReadOnlyMemory<byte> json, int status = StatusCodes.Status200OK)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(json, http.RequestAborted);
    }

    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
