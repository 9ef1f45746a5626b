using System.Buffers;
using System.Text.Json;

namespace CodexLb.Protocol.Errors;

/// <summary>
/// A websocket error frame: <c>{"type":"error","status":N,"error":{…}}</c>. It always carries <c>status</c>: the Codex
/// CLI ignores an error frame without one and waits out its idle timeout.
/// </summary>
public static class ErrorFrame
{
    public static byte[] Build(OpenAIError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteNumber("status", error.Status);
            error.WriteErrorObject(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
