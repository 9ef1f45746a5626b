using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Simulator;

/// <summary>A real websocket client against the simulator, with frame-level helpers.</summary>
internal sealed class SimWsClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private SimWsClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public bool Closed { get; private set; }

    public static async Task<SimWsClient> ConnectAsync(UpstreamSimulatorHost sim, string path = "/v1/responses",
        string? authorization = "Bearer sk-sim-test", string? beta = "responses_websockets=2026-02-06")
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (authorization is not null)
        {
            socket.Options.SetRequestHeader("Authorization", authorization);
        }

        if (beta is not null)
        {
            socket.Options.SetRequestHeader("OpenAI-Beta", beta);
        }

        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{sim.Port}{path}"), cts.Token);
        return new SimWsClient(socket);
    }

    public async Task SendAsync(string json)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await Socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>Next frame, or null once the server closed (close frame or abort).</summary>
    public async Task<JsonElement?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var buffer = new ArrayBufferWriter<byte>(8192);
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                result = await Socket.ReceiveAsync(buffer.GetMemory(8192), cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                Closed = true; // a cancelled receive aborts the client socket too
                return null;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                Closed = true;
                return null;
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone();
            }
        }
    }

    /// <summary>Frames up to and including the terminal one (completed / failed / error), or up to a close.</summary>
    public async Task<SimResponse> ReadResponseAsync()
    {
        var events = new List<JsonElement>();
        while (await ReceiveAsync() is { } frame)
        {
            events.Add(frame);
            if (frame.GetProperty("type").GetString() is "response.completed" or "response.failed" or "error")
            {
                return new SimResponse(events, Closed: false);
            }
        }

        return new SimResponse(events, Closed: true);
    }

    public async Task<SimResponse> CreateAsync(IEnumerable<JsonNode> input, string? previousResponseId = null, bool? generate = null)
    {
        await SendAsync(SimRequests.Create(input, previousResponseId, generate));
        return await ReadResponseAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        Socket.Dispose();
    }
}

/// <summary>The frames of one response as the client saw them.</summary>
internal sealed record SimResponse(IReadOnlyList<JsonElement> Events, bool Closed)
{
    public IEnumerable<string> Types => Events.Select(e => e.GetProperty("type").GetString()!);

    public JsonElement Last => Events[^1];

    public bool IsCompleted => !Closed && Events.Count > 0 && Last.GetProperty("type").GetString() == "response.completed";

    public JsonElement Response => Last.GetProperty("response");

    public string ResponseId => Response.GetProperty("id").GetString()!;

    public JsonElement Usage => Response.GetProperty("usage");

    public int InputTokens => Usage.GetProperty("input_tokens").GetInt32();

    public int CachedTokens => Usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32();

    public int OutputTokens => Usage.GetProperty("output_tokens").GetInt32();

    public JsonElement[] Output => Response.GetProperty("output").EnumerateArray().ToArray();

    /// <summary>The output items as JSON nodes, ready to be resent as input.</summary>
    public JsonNode[] OutputNodes => Output.Select(e => JsonNode.Parse(e.GetRawText())!).ToArray();

    public JsonElement Error => Last.GetProperty("error");

    public string ErrorCode => Error.GetProperty("code").GetString()!;

    public int ErrorStatus => Last.GetProperty("status").GetInt32();

    public string Text => string.Concat(Output
        .Where(o => o.GetProperty("type").GetString() == "message")
        .SelectMany(o => o.GetProperty("content").EnumerateArray())
        .Select(c => c.GetProperty("text").GetString()));
}
