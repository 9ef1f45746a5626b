using System.Text.Json;
using CodexLb.UpstreamSimulator.Model;

namespace CodexLb.UpstreamSimulator.Wire;

/// <summary>Writes the response-level frames and objects (created, in_progress, completed, failed, error).</summary>
internal static class ResponseEvents
{
    public static void WriteLifecycleStart(EventBatch batch, Turn turn)
    {
        WriteResponseEvent(batch, "response.created", turn, "in_progress");
        WriteResponseEvent(batch, "response.in_progress", turn, "in_progress");
    }

    public static void WriteResponseEvent(EventBatch batch, string type, Turn turn, string status)
    {
        var w = batch.Begin(type);
        w.WritePropertyName("response"u8);
        WriteResponseObject(w, turn, status);
        batch.End(type);
    }

    /// <summary>The response object; output and usage only once completed, error only when failed.</summary>
    public static void WriteResponseObject(Utf8JsonWriter w, Turn turn, string status)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, turn.ResponseId);
        w.WriteString("object"u8, "response"u8);
        w.WriteNumber("created_at"u8, turn.CreatedAt);
        w.WriteString("model"u8, turn.Model);
        w.WriteString("status"u8, status);
        if (status == "failed" && turn.Error is { } error)
        {
            w.WriteStartObject("error"u8);
            w.WriteString("code"u8, error.Code);
            w.WriteString("message"u8, error.Message);
            w.WriteEndObject();
        }

        w.WriteStartArray("output"u8);
        if (status == "completed")
        {
            foreach (var item in turn.Items)
            {
                w.WriteRawValue(item.Done, skipInputValidation: true);
            }
        }

        w.WriteEndArray();
        if (status == "completed")
        {
            WriteUsage(w, turn);
        }

        w.WriteEndObject();
    }

    /// <summary>A websocket error frame. Always carries <c>status</c>: Codex ignores error frames without it.</summary>
    public static void WriteErrorFrame(EventBatch batch, SimError error)
    {
        var w = batch.Begin("error");
        w.WriteNumber("status"u8, error.Status);
        w.WritePropertyName("error"u8);
        WriteErrorObject(w, error);
        batch.End("error", withSequenceNumber: false);
    }

    /// <summary>The HTTP error body: <c>{"error":{...}}</c>.</summary>
    public static void WriteHttpErrorBody(Utf8JsonWriter w, SimError error)
    {
        w.WriteStartObject();
        w.WritePropertyName("error"u8);
        WriteErrorObject(w, error);
        w.WriteEndObject();
    }

    private static void WriteErrorObject(Utf8JsonWriter w, SimError error)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, error.Type);
        w.WriteString("code"u8, error.Code);
        w.WriteString("message"u8, error.Message);
        if (error.Param is null)
        {
            w.WriteNull("param"u8);
        }
        else
        {
            w.WriteString("param"u8, error.Param);
        }

        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, Turn turn)
    {
        w.WriteStartObject("usage"u8);
        w.WriteNumber("input_tokens"u8, turn.InputTokens);
        w.WriteStartObject("input_tokens_details"u8);
        w.WriteNumber("cached_tokens"u8, turn.CachedTokens);
        w.WriteEndObject();
        w.WriteNumber("output_tokens"u8, turn.OutputTokens);
        w.WriteStartObject("output_tokens_details"u8);
        w.WriteNumber("reasoning_tokens"u8, turn.ReasoningTokens);
        w.WriteEndObject();
        w.WriteNumber("total_tokens"u8, turn.InputTokens + turn.OutputTokens);
        w.WriteEndObject();
    }
}
