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

    /// <summary>
    /// The complete response object, every field the provider always sends (see tests/Tests/Simulator/Schemas).
    /// Output, usage and completed_at only in the completed form, error only in the failed one.
    /// </summary>
    /// <param name="status">in_progress, completed, failed, queued or cancelled.</param>
    public static void WriteResponseObject(Utf8JsonWriter w, Turn turn, string status)
    {
        var echo = turn.Echo;
        var completed = status == "completed";
        w.WriteStartObject();
        w.WriteString("id"u8, turn.ResponseId);
        w.WriteString("object"u8, "response"u8);
        w.WriteNumber("created_at"u8, turn.CreatedAt);
        w.WriteString("status"u8, status);
        w.WriteBoolean("background"u8, echo.Background);
        if (completed)
        {
            w.WriteNumber("completed_at"u8, turn.CompletedAt);
        }
        else
        {
            w.WriteNull("completed_at"u8);
        }

        if (status == "failed" && turn.Error is { } error)
        {
            w.WriteStartObject("error"u8);
            w.WriteString("code"u8, error.Code);
            w.WriteString("message"u8, error.Message);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("error"u8);
        }

        w.WriteNull("incomplete_details"u8);
        WriteRawOr(w, "instructions"u8, echo.Instructions, null);
        WriteNumberOrNull(w, "max_output_tokens"u8, echo.MaxOutputTokens);
        WriteNumberOrNull(w, "max_tool_calls"u8, echo.MaxToolCalls);
        w.WriteString("model"u8, turn.Model);
        w.WriteStartArray("output"u8);
        if (completed)
        {
            foreach (var item in turn.Items)
            {
                w.WriteRawValue(item.Done, skipInputValidation: true);
            }
        }

        w.WriteEndArray();
        w.WriteBoolean("parallel_tool_calls"u8, echo.ParallelToolCalls);
        w.WriteNumber("presence_penalty"u8, echo.PresencePenalty);
        w.WriteNumber("frequency_penalty"u8, echo.FrequencyPenalty);
        WriteStringOrNull(w, "previous_response_id"u8, echo.PreviousResponseId);
        WriteStringOrNull(w, "prompt_cache_key"u8, echo.PromptCacheKey);
        w.WriteStartObject("reasoning"u8);
        WriteStringOrNull(w, "effort"u8, echo.ReasoningEffort);
        WriteStringOrNull(w, "summary"u8, echo.ReasoningSummary);
        w.WriteEndObject();
        WriteStringOrNull(w, "safety_identifier"u8, echo.SafetyIdentifier);
        w.WriteString("service_tier"u8, echo.ServiceTier);
        w.WriteBoolean("store"u8, echo.Store);
        w.WriteNumber("temperature"u8, echo.Temperature);
        w.WriteStartObject("text"u8);
        WriteRawOr(w, "format"u8, echo.TextFormat, """{"type":"text"}"""u8);
        w.WriteString("verbosity"u8, echo.Verbosity);
        w.WriteEndObject();
        WriteRawOr(w, "tool_choice"u8, echo.ToolChoice, "\"auto\""u8);
        WriteRawOr(w, "tools"u8, echo.Tools, "[]"u8);
        w.WriteNumber("top_logprobs"u8, echo.TopLogprobs);
        w.WriteNumber("top_p"u8, echo.TopP);
        w.WriteString("truncation"u8, echo.Truncation);
        if (completed)
        {
            WriteUsage(w, turn);
        }
        else
        {
            w.WriteNull("usage"u8);
        }

        WriteStringOrNull(w, "user"u8, echo.User);
        WriteRawOr(w, "metadata"u8, echo.Metadata, "{}"u8);
        w.WriteEndObject();
    }

    private static void WriteRawOr(Utf8JsonWriter w, ReadOnlySpan<byte> name, byte[]? raw, ReadOnlySpan<byte> fallback)
    {
        w.WritePropertyName(name);
        if (raw is not null)
        {
            w.WriteRawValue(raw, skipInputValidation: true);
        }
        else if (fallback.IsEmpty)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteRawValue(fallback, skipInputValidation: true);
        }
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
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

    internal static void WriteUsage(Utf8JsonWriter w, Turn turn)
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
