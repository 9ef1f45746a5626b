using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Security;

/// <summary>What an HTTP request got back.</summary>
public sealed record RawAnswer(HttpStatusCode Status, HttpResponseHeaders Headers, string? ContentType, string Body, string Allow)
{
    public int Code => (int)Status;

    /// <summary>The <c>error</c> object of an OpenAI-shaped error body; fails the test when the body is not one.</summary>
    public JsonElement Error => HostileClient.AssertOpenAIError(Body, $"{Code} {ContentType}");
}

/// <summary>Sends what a hostile or broken client sends: raw bytes over HTTP and websockets, any method, any path.</summary>
public static class HostileClient
{
    public static async Task<RawAnswer> SendAsync(HttpClient http, HttpMethod method, string path, byte[]? body = null,
        IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return new RawAnswer(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.MediaType, text,
            string.Join(", ", response.Content.Headers.Allow)); // Allow is a content header to HttpClient
    }

    public static Task<RawAnswer> PostAsync(HttpClient http, byte[] body, IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancellationToken = default) =>
        SendAsync(http, HttpMethod.Post, "/v1/responses", body, headers, cancellationToken);

    public static Task<RawAnswer> PostAsync(HttpClient http, string body, IEnumerable<KeyValuePair<string, string>>? headers = null) =>
        PostAsync(http, Encoding.UTF8.GetBytes(body), headers);

    /// <summary>Asserts <c>{"error":{"message":string,"type":string,"code":string,"param":string|null}}</c> and returns the error object.</summary>
    public static JsonElement AssertOpenAIError(string body, string context = "")
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"not JSON ({context}): {Shorten(body)}");
            throw;
        }
        Assert.True(root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object,
            $"no error object ({context}): {Shorten(body)}");
        error = root.GetProperty("error");
        foreach (var field in new[] { "message", "type", "code" })
            Assert.True(error.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0,
                $"error.{field} missing or empty ({context}): {Shorten(body)}");
        Assert.True(error.TryGetProperty("param", out var param) && param.ValueKind is JsonValueKind.String or JsonValueKind.Null,
            $"error.param missing ({context}): {Shorten(body)}");
        return error;
    }

    public static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";
}

/// <summary>A websocket to the gateway that sends any bytes as text or binary frames.</summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    private WsClient _client = null!;

    public WebSocketState State => _client.State;

    public static async Task<RawWebSocket> ConnectAsync(Uri baseUrl, string apiKey, IEnumerable<KeyValuePair<string, string>>? headers = null) =>
        new() { _client = await WsClient.ConnectAsync(baseUrl, apiKey, headers?.ToDictionary()) };

    public Task SendAsync(byte[] frame, WebSocketMessageType type = WebSocketMessageType.Text, CancellationToken cancellationToken = default) =>
        _client.SendAsync(frame, type, cancellationToken);

    public Task SendAsync(string frame) => SendAsync(Encoding.UTF8.GetBytes(frame));

    /// <summary>The next frame as JSON; null when the server closed the socket.</summary>
    public Task<JsonElement?> ReceiveAsync(CancellationToken cancellationToken) => _client.ReceiveAsync(cancellationToken);

    /// <summary>Sends one frame and reads frames up to a terminal event or an error frame; null when the socket closed first.</summary>
    public async Task<List<JsonElement>?> TurnAsync(byte[] frame, WebSocketMessageType type = WebSocketMessageType.Text, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        await SendAsync(frame, type, cts.Token);
        var events = new List<JsonElement>();
        while (true)
        {
            if (await ReceiveAsync(cts.Token) is not { } e) return null;
            events.Add(e);
            if (e.GetProperty("type").GetString() is "error" or "response.completed" or "response.failed" or "response.incomplete") return events;
        }
    }

    public Task<List<JsonElement>?> TurnAsync(string frame) => TurnAsync(Encoding.UTF8.GetBytes(frame));

    /// <summary>Asserts that an answer is one error frame with a status and an OpenAI error, and returns the frame.</summary>
    public static JsonElement AssertErrorFrame(List<JsonElement>? answer, int status)
    {
        Assert.NotNull(answer);
        var frame = Assert.Single(answer);
        Assert.Equal("error", frame.GetProperty("type").GetString());
        Assert.Equal(status, frame.GetProperty("status").GetInt32());
        HostileClient.AssertOpenAIError(frame.GetRawText());
        return frame;
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}

/// <summary>
/// The product's log lines as the host writes them (its EventSource logger, on by default in every ASP.NET Core host),
/// with the exception each carries. Process-wide: filter by content.
/// </summary>
public sealed class LogCapture : EventListener
{
    public sealed record Line(string Logger, int Level, string Message, string Exception);

    private readonly ConcurrentQueue<Line> _lines = new(); // initialized before the base constructor enables sources

    public IReadOnlyList<Line> Lines => [.. _lines];

    protected override void OnEventSourceCreated(EventSource source)
    {
        // Keywords: 8 = the JSON message event, which carries the formatted message and the exception (with its stack).
        if (source.Name == "Microsoft-Extensions-Logging") EnableEvents(source, EventLevel.Verbose, (EventKeywords)8);
    }

    private static int Level(string text) =>
        int.TryParse(text, out var level) ? level : Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(text, out var named) ? (int)named : -1;

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName != "MessageJson" || e.Payload is null || e.PayloadNames is null) return;
        string Get(string name) => e.PayloadNames.IndexOf(name) is var i and >= 0 ? Convert.ToString(e.Payload[i]) ?? "" : "";
        _lines.Enqueue(new Line(Get("LoggerName"), Level(Get("Level")), Get("FormattedMessage"), Get("ExceptionJson")));
    }
}
