using System.Text.Json;

namespace CodexLb.Protocol.Errors;

/// <summary>An OpenAI-style error: the body is <c>{"error":{"message","type","code","param"}}</c>.</summary>
public sealed record OpenAIError(int Status, string Code, string Message, string Type = ErrorTypes.InvalidRequest, string? Param = null)
{
    /// <summary>Seconds a client should wait before retrying; sent as <c>Retry-After</c>.</summary>
    public int? RetryAfterSeconds { get; init; }

    public byte[] ToJsonBytes()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            WriteErrorObject(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes <c>"error":{…}</c> into an open object (shared by HTTP bodies, error frames and response.failed).</summary>
    public void WriteErrorObject(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        writer.WriteString("code", Code);
        if (Param is null) writer.WriteNull("param"); else writer.WriteString("param", Param);
        writer.WriteEndObject();
    }
}

public static class ErrorTypes
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Server = "server_error";
    public const string RateLimit = "rate_limit_error";
}
