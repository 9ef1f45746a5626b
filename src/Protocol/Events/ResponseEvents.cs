using System.Buffers;
using System.Text.Json;
using CodexLb.Protocol.Errors;

namespace CodexLb.Protocol.Events;

/// <summary>Events the bridge writes itself (everything else is relayed from the provider as received).</summary>
public static class ResponseEvents
{
    public const string Failed = "response.failed";

    /// <summary>A <c>response.failed</c> event carrying the error's code: how a started stream ends on a proxy-side failure.</summary>
    public static byte[] BuildFailed(OpenAIError error, string? responseId, long sequenceNumber)
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

    /// <summary>
    /// An event carrying a whole response object as it is (<c>{"type":…,"response":…,"sequence_number":…}</c>): how a
    /// background response that is over, and whose events are no longer held, is streamed again.
    /// </summary>
    public static byte[] BuildWithResponse(string type, ReadOnlySpan<byte> response, long sequenceNumber)
    {
        var buffer = new ArrayBufferWriter<byte>(response.Length + 96);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("response");
            writer.WriteRawValue(response, skipInputValidation: true);
            writer.WriteNumber("sequence_number", sequenceNumber);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The terminal event type that ends a response with this <c>status</c> (a cancelled one ends failed, as the bridge streams it).</summary>
    public static string TerminalTypeOf(string? status) => status switch
    {
        "completed" => EventTypes.Completed,
        "incomplete" => EventTypes.Incomplete,
        _ => EventTypes.Failed,
    };

    /// <summary>
    /// <c>response.created</c> or <c>response.completed</c> of a warm-up (<c>generate:false</c>) the bridge answers itself:
    /// no output, no usage charged.
    /// </summary>
    public static byte[] BuildWarmUp(string type, string responseId, string? model, long createdAt, int sequenceNumber)
    {
        var completed = type == EventTypes.Completed;
        var buffer = new ArrayBufferWriter<byte>(320);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteStartObject("response");
            writer.WriteString("id", responseId);
            writer.WriteString("object", "response");
            writer.WriteNumber("created_at", createdAt);
            writer.WriteString("status", completed ? "completed" : "in_progress");
            if (model is null) writer.WriteNull("model"); else writer.WriteString("model", model);
            writer.WriteStartArray("output");
            writer.WriteEndArray();
            if (completed)
            {
                writer.WriteStartObject("usage");
                writer.WriteNumber("input_tokens", 0);
                writer.WriteStartObject("input_tokens_details");
                writer.WriteNumber("cached_tokens", 0);
                writer.WriteEndObject();
                writer.WriteNumber("output_tokens", 0);
                writer.WriteStartObject("output_tokens_details");
                writer.WriteNumber("reasoning_tokens", 0);
                writer.WriteEndObject();
                writer.WriteNumber("total_tokens", 0);
                writer.WriteEndObject();
            }
            else writer.WriteNull("usage");
            writer.WriteEndObject();
            writer.WriteNumber("sequence_number", sequenceNumber);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
