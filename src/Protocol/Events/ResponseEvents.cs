using System.Buffers;
using System.Text.Json;
using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Events;

/// <summary>Events the bridge writes itself (everything else is relayed from the provider as received).</summary>
public static class ResponseEvents
{
    public const string Failed = "response.failed";

    /// <summary>A <c>response.failed</c> event carrying the error's code: how a started stream ends on a proxy-side failure.</summary>
    public static byte[] BuildFailed(OpenAIError error, string? responseId, int sequenceNumber)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", Failed);
            writer.WriteStartObject("response");
            if (responseId is null) writer.WriteNull("id"); else writer.WriteString("id", responseId);
            writer.WriteString("object", "response");
            writer.WriteString("status", "failed");
            writer.WriteStartObject("error");
            writer.WriteString("code", error.Code);
            writer.WriteString("message", error.Message);
            writer.WriteEndObject();
            writer.WriteStartArray("output");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteNumber("sequence_number", sequenceNumber);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
