using System.Buffers;
using System.Globalization;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>HTTP error answers in the provider's shape: status, optional Retry-After, <c>{"error":{...}}</c>.</summary>
internal static class HttpErrors
{
    public static async Task WriteAsync(HttpContext http, SimError error, TimeSpan? retryAfter = null)
    {
        http.Response.StatusCode = error.Status;
        http.Response.ContentType = "application/json";
        if (retryAfter is { } delay)
        {
            http.Response.Headers.RetryAfter = Math.Ceiling(delay.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            ResponseEvents.WriteHttpErrorBody(w, error);
        }

        await http.Response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted);
    }
}
