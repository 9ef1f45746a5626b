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

    /// <summary>The whole body: Codex-like settings around the raw input items (after <paramref name="previousResponseId"/> when set).</summary>
    /// <param name="textDeltas">asks the simulator for an answer of exactly this many text deltas (its <c>sim_text_deltas</c> metadata).</param>
    public static byte[] Create(IEnumerable<byte[]> input, bool stream = true, string? previousResponseId = null, int textDeltas = 0)
    {
        using var buffer = new MemoryStream();
        buffer.Write("{\"model\":\"gpt-5.5\",\"stream\":"u8);
        buffer.Write(stream ? "true"u8 : "false"u8);
        if (textDeltas > 0) buffer.Write(Encoding.UTF8.GetBytes($",\"metadata\":{{\"sim_text_deltas\":\"{textDeltas}\"}}"));
        if (previousResponseId is not null) buffer.Write(Encoding.UTF8.GetBytes($",\"previous_response_id\":\"{previousResponseId}\""));
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

    /// <summary>The response id of the <c>response.completed</c> event of a captured SSE body (null when none).</summary>
    public static string? CompletedResponseId(ReadOnlySpan<byte> sse)
    {
        var marker = "event: response.completed\ndata: "u8;
        var at = sse.LastIndexOf(marker);
        if (at < 0) return null;
        var data = sse[(at + marker.Length)..];
        var end = data.IndexOf((byte)'\n');
        return ResponseIdOfEvent(end >= 0 ? data[..end] : data);
    }

    /// <summary>The <c>response.id</c> of one event's JSON (an SSE data line or a websocket frame).</summary>
    public static string? ResponseIdOfEvent(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.TryGetProperty("response", out var response) && response.TryGetProperty("id", out var id) ? id.GetString() : null;
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
