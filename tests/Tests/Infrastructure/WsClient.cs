using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Tests.Infrastructure;

/// <summary>A websocket Responses client: sends <c>response.create</c> frames, collects events up to a terminal one or an error.</summary>
public sealed class WsClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<WsClient> ConnectAsync(Uri baseUrl, string apiKey, IDictionary<string, string>? headers = null, string path = "/v1/responses")
    {
        var client = new WsClient();
        client._socket.Options.SetRequestHeader("Authorization", "Bearer " + apiKey);
        client._socket.Options.SetRequestHeader("OpenAI-Beta", "responses_websockets=2026-02-06");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) client._socket.Options.SetRequestHeader(name, value);
        var uri = new UriBuilder(baseUrl) { Scheme = "ws", Path = path }.Uri;
        await client._socket.ConnectAsync(uri, new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        return client;
    }

    public async Task<List<JsonElement>> TurnAsync(JsonObject body)
    {
        body["type"] = "response.create";
        body.Remove("stream");
        await SendRawAsync(body.ToJsonString());
        var events = new List<JsonElement>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var e = await ReceiveAsync(timeout.Token) ?? throw new WebSocketException("closed before a terminal event");
            events.Add(e);
            var type = e.GetProperty("type").GetString();
            if (type is "error" or "response.completed" or "response.failed" or "response.incomplete") return events;
        }
    }

    public WebSocketState State => _socket.State;

    /// <summary>Sends any bytes as one text or binary frame.</summary>
    public Task SendAsync(byte[] frame, WebSocketMessageType type = WebSocketMessageType.Text, CancellationToken cancellationToken = default) =>
        _socket.SendAsync(frame, type, true, cancellationToken);

    public Task SendRawAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task<JsonElement?> ReceiveAsync(CancellationToken cancellationToken) => ReceiveJsonAsync(_socket, cancellationToken);

    /// <summary>The next whole frame of a socket as JSON; null when the server closed it.</summary>
    public static async Task<JsonElement?> ReceiveJsonAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(chunk, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            buffer.Write(chunk, 0, result.Count);
            if (result.EndOfMessage) return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        _socket.Dispose();
    }
}

public static class WsEvents
{
    public static string Type(this JsonElement e) => e.GetProperty("type").GetString()!;

    public static string ResponseId(this IReadOnlyList<JsonElement> events) => events[^1].GetProperty("response").GetProperty("id").GetString()!;
}
