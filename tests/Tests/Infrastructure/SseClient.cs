using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CodexLb.Tests.Infrastructure;

/// <summary>A parsed SSE event: its <c>event:</c> name and its JSON data.</summary>
public sealed record SseEvent(string Type, JsonElement Data);

/// <summary>What a turn answered: status, headers, and either the SSE events or the JSON body.</summary>
public sealed record TurnResult(HttpStatusCode Status, HttpResponseHeaders Headers, string? ContentType, IReadOnlyList<SseEvent> Events, string RawBody, int KeepAlives)
{
    public JsonElement Json => JsonDocument.Parse(RawBody).RootElement;

    public SseEvent? Terminal => Events.LastOrDefault(e => e.Type is "response.completed" or "response.failed" or "response.incomplete");

    public string? ResponseId => Terminal?.Data.GetProperty("response").GetProperty("id").GetString();

    public string? TurnState => Headers.TryGetValues("x-codex-turn-state", out var v) ? v.First() : null;

    /// <summary>The output items of the completed response, as a client would append them to its history.</summary>
    public IReadOnlyList<JsonElement> OutputItems => Events.Where(e => e.Type == "response.output_item.done").Select(e => e.Data.GetProperty("item").Clone()).ToList();
}

/// <summary>What a client reads out of a response object.</summary>
public static class ResponseJson
{
    /// <summary>The text of a response's assistant messages, as the SDKs' <c>output_text</c> joins it.</summary>
    public static string OutputText(JsonElement response) => string.Concat(response.GetProperty("output").EnumerateArray()
        .Where(i => i.GetProperty("type").GetString() == "message")
        .SelectMany(i => i.GetProperty("content").EnumerateArray()).Select(c => c.GetProperty("text").GetString()));
}

public static class SseClient
{
    public static async Task<TurnResult> PostAsync(HttpClient http, string path, object body, IDictionary<string, string>? headers = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(name, value);
        return await SendAsync(http, request, cancellationToken);
    }

    /// <summary>A GET answered as SSE (a response streamed again) or as JSON (an error).</summary>
    public static async Task<TurnResult> GetAsync(HttpClient http, string path, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendAsync(http, request, cancellationToken);
    }

    private static async Task<TurnResult> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var raw = await response.Content.ReadAsStringAsync(cancellationToken);
        var contentType = response.Content.Headers.ContentType?.MediaType;
        var events = new List<SseEvent>();
        var keepAlives = 0;
        if (contentType == "text/event-stream")
        {
            foreach (var block in raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
            {
                if (block.StartsWith(':')) { keepAlives++; continue; }
                if (Parse(block.Split('\n')) is { } parsed) events.Add(parsed);
            }
        }
        return new TurnResult(response.StatusCode, response.Headers, contentType, events, raw, keepAlives);
    }

    /// <summary>The events of an SSE body as they arrive: a caller that stops early drops the stream, as a client whose connection broke.</summary>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream body, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length > 0) { lines.Add(line); continue; }
            if (Parse(lines) is { } parsed) yield return parsed;
            lines.Clear();
        }
    }

    private static SseEvent? Parse(IEnumerable<string> lines)
    {
        string? type = null, data = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("event: ")) type = line[7..];
            else if (line.StartsWith("data: ")) data = line[6..];
        }
        return type is not null && data is not null ? new SseEvent(type, JsonDocument.Parse(data).RootElement.Clone()) : null;
    }
}
