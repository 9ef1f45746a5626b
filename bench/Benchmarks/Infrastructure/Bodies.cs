using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>Responses create bodies shaped like the Codex CLI's (same settings as tests/Tests/Infrastructure/Items.cs).</summary>
public static class Bodies
{
    public static byte[] Message(string role, string text) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["type"] = "message",
            ["role"] = role,
            ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = text }),
        }.ToJsonString());

    public static byte[] FunctionOutput(string callId, string output) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["type"] = "function_call_output", ["call_id"] = callId, ["output"] = output }.ToJsonString());

    /// <summary>The whole body: Codex-like settings around the raw input items.</summary>
    public static byte[] Create(IEnumerable<byte[]> input, bool stream = true)
    {
        using var buffer = new MemoryStream();
        buffer.Write("{\"model\":\"gpt-5.5\",\"stream\":"u8);
        buffer.Write(stream ? "true"u8 : "false"u8);
        buffer.Write(",\"input\":["u8);
        var first = true;
        foreach (var item in input)
        {
            if (!first) buffer.WriteByte((byte)',');
            buffer.Write(item);
            first = false;
        }
        buffer.Write("],\"tools\":[{\"type\":\"function\",\"name\":\"exec_command\",\"parameters\":{}}],\"tool_choice\":\"auto\",\"store\":false,\"include\":[\"reasoning.encrypted_content\"]}"u8);
        return buffer.ToArray();
    }

    /// <summary>The raw output items of the <c>response.completed</c> event of a captured SSE body (empty when none).</summary>
    public static List<byte[]> OutputItems(ReadOnlySpan<byte> sse)
    {
        var marker = "event: response.completed\ndata: "u8;
        var at = sse.LastIndexOf(marker);
        if (at < 0) return [];
        var data = sse[(at + marker.Length)..];
        var end = data.IndexOf((byte)'\n');
        if (end >= 0) data = data[..end];
        using var document = JsonDocument.Parse(data.ToArray());
        return document.RootElement.GetProperty("response").GetProperty("output").EnumerateArray()
            .Select(e => Encoding.UTF8.GetBytes(e.GetRawText())).ToList();
    }

    public static string? ErrorCode(ReadOnlySpan<byte> sse)
    {
        var text = Encoding.UTF8.GetString(sse);
        var at = text.IndexOf("\"code\":\"", StringComparison.Ordinal);
        if (at < 0) return null;
        var start = at + 8;
        var end = text.IndexOf('"', start);
        return end < 0 ? null : text[start..end];
    }
}
