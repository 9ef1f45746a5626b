using System.Buffers;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary><c>GET /v1/models</c>: the configured models in the provider's list shape, encoded once.</summary>
internal static class ModelsEndpoint
{
    public static RequestDelegate Create(SimulatorOptions options)
    {
        var body = Encode(options.Models.Length > 0 ? options.Models : [options.DefaultModel]);
        return http =>
        {
            http.Response.ContentType = "application/json";
            return http.Response.Body.WriteAsync(body, http.RequestAborted).AsTask();
        };
    }

    private static byte[] Encode(string[] models)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("object"u8, "list"u8);
            w.WriteStartArray("data"u8);
            foreach (var model in models)
            {
                w.WriteStartObject();
                w.WriteString("id"u8, model);
                w.WriteString("object"u8, "model"u8);
                w.WriteNumber("created"u8, 1_767_225_600);
                w.WriteString("owned_by"u8, "upstream-simulator"u8);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
