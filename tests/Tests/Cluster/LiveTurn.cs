using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Cluster;

/// <summary>One SSE event (or websocket frame) as the client received it, with its arrival time.</summary>
internal sealed record LiveEvent(string Type, string Data, DateTimeOffset At)
{
    public JsonNode? Json
    {
        get
        {
            try { return JsonNode.Parse(Data); }
            catch (JsonException) { return null; }
        }
    }

    public bool IsTerminal => Type is "response.completed" or "response.failed" or "response.incomplete";

    public string? ResponseId => Json?["response"]?["id"]?.GetValue<string>();

    public int? Sequence => Json?["sequence_number"]?.GetValue<int>();

    public string? ErrorCode => Json?["response"]?["error"]?["code"]?.GetValue<string>() ?? Json?["error"]?["code"]?.GetValue<string>();
}

/// <summary>A streaming turn read as it arrives: events with their arrival times, how it ended.</summary>
internal sealed class LiveTurn
{
    private readonly Lock _gate = new();
    private readonly List<LiveEvent> _events = [];

    private LiveTurn() => SentAt = DateTimeOffset.UtcNow;

    public DateTimeOffset SentAt { get; private set; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public HttpStatusCode? Status { get; private set; }

    public string? ContentType { get; private set; }

    public string? Body { get; private set; }

    public Exception? Error { get; private set; }

    public DateTimeOffset? EndedAt { get; private set; }

    public IReadOnlyList<LiveEvent> Events
    {
        get
        {
            lock (_gate) return [.. _events];
        }
    }

    public bool IsCompleted => Events is [.., { Type: "response.completed" }];

    public DateTimeOffset? CompletedAt => Events.FirstOrDefault(e => e.Type == "response.completed")?.At;

    public string? CompletedResponseId => Events.FirstOrDefault(e => e.Type == "response.completed")?.ResponseId;

    /// <summary>A POST read as a stream; <paramref name="giveUp"/> is the client giving up (its connection closed).</summary>
    public static LiveTurn Start(HttpClient http, string body, IReadOnlyDictionary<string, string> headers, string path = "/v1/responses",
        CancellationToken giveUp = default)
    {
        var turn = new LiveTurn();
        turn.Completion = Task.Run(() => turn.RunAsync(http, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            return request;
        }, giveUp));
        return turn;
    }

    /// <summary>A GET answered as a stream: a background response streamed again by id.</summary>
    public static LiveTurn Get(HttpClient http, string path)
    {
        var turn = new LiveTurn();
        turn.Completion = Task.Run(() => turn.RunAsync(http, () => new HttpRequestMessage(HttpMethod.Get, path)));
        return turn;
    }

    /// <summary>
    /// A websocket turn on a new connection: after <paramref name="warmUp"/> (a <c>generate:false</c> create, when given),
    /// the frame <paramref name="frame"/> makes of the warm-up's response id. <see cref="SentAt"/> is when the frame went.
    /// </summary>
    public static LiveTurn StartWebSocket(Uri gateway, string apiKey, string path, IDictionary<string, string> headers, JsonObject? warmUp,
        Func<string?, string> frame)
    {
        var turn = new LiveTurn();
        turn.Completion = Task.Run(() => turn.RunWebSocketAsync(gateway, apiKey, path, headers, warmUp, frame));
        return turn;
    }

    public async Task WaitUntilAsync(Func<LiveTurn, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!condition(this))
        {
            if (Completion.IsCompleted && !condition(this)) throw new InvalidOperationException("the turn ended first: " + Describe());
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"not within {timeout.TotalSeconds:0.#}s: {Describe()}");
            await Task.Delay(20);
        }
    }

    public TimeSpan LongestGap()
    {
        var times = Events.Select(e => e.At).Prepend(SentAt).ToList();
        return times.Count < 2 ? TimeSpan.Zero : times.Zip(times.Skip(1), (a, b) => b - a).Max();
    }

    public void AssertContiguous()
    {
        var sequence = Events.Select(e => e.Sequence ?? -1).ToList();
        Assert.True(sequence.SequenceEqual(Enumerable.Range(sequence[0], sequence.Count)), "sequence numbers not contiguous: " + string.Join(",", sequence));
    }

    public string Describe()
    {
        var events = Events;
        var terminal = events.LastOrDefault(e => e.IsTerminal);
        var summary = string.Join(",", events.GroupBy(e => e.Type).Select(g => $"{g.Key}x{g.Count()}"));
        return $"status {(Status is { } s ? ((int)s).ToString(CultureInfo.InvariantCulture) : "-")} {ContentType ?? "-"}, {events.Count} events [{summary}], " +
               $"terminal {terminal?.Type ?? "none"}{(terminal?.ErrorCode is { } code ? $"({code})" : "")} id {terminal?.ResponseId ?? events.FirstOrDefault()?.ResponseId ?? "-"}, " +
               $"last event {(events.Count == 0 ? "-" : events[^1].Type + " " + Truncate(events[^1].Data, 300))}, " +
               $"{(EndedAt is { } end ? $"ended {(end - SentAt).TotalSeconds:F2}s after sending" : "still open")}" +
               (Body is null ? "" : $", body {Truncate(Body, 400)}") + (Error is null ? "" : $", error {Error.GetType().Name}: {Truncate(Error.Message, 200)}");
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    private async Task RunWebSocketAsync(Uri gateway, string apiKey, string path, IDictionary<string, string> headers, JsonObject? warmUp,
        Func<string?, string> frame)
    {
        try
        {
            await using var socket = await WsClient.ConnectAsync(gateway, apiKey, headers, path);
            ContentType = "websocket";
            string? warmUpId = null;
            if (warmUp is not null)
            {
                warmUp["generate"] = false;
                var warmed = await socket.TurnAsync(warmUp);
                if (warmed[^1].Type() != "response.completed") throw new InvalidOperationException("warm-up failed: " + warmed[^1].GetRawText());
                warmUpId = warmed.ResponseId();
            }
            var text = frame(warmUpId);
            SentAt = DateTimeOffset.UtcNow;
            await socket.SendRawAsync(text);
            while (await socket.ReceiveAsync(CancellationToken.None) is { } e)
            {
                var type = e.Type();
                lock (_gate) _events.Add(new LiveEvent(type, e.GetRawText(), DateTimeOffset.UtcNow));
                if (type is "error" or "response.completed" or "response.failed" or "response.incomplete") return;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            Error = ex;
        }
        finally
        {
            EndedAt = DateTimeOffset.UtcNow;
        }
    }

    private async Task RunAsync(HttpClient http, Func<HttpRequestMessage> makeRequest, CancellationToken giveUp = default)
    {
        try
        {
            using var request = makeRequest();
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, giveUp);
            Status = response.StatusCode;
            ContentType = response.Content.Headers.ContentType?.MediaType;
            if (ContentType != "text/event-stream")
            {
                Body = await response.Content.ReadAsStringAsync();
                return;
            }

            await using var stream = await response.Content.ReadAsStreamAsync();
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string? type = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(giveUp) is { } line)
            {
                if (line.Length == 0)
                {
                    if (type is not null || data.Length > 0)
                    {
                        lock (_gate) _events.Add(new LiveEvent(type ?? "message", data.ToString(), DateTimeOffset.UtcNow));
                    }
                    type = null;
                    data.Clear();
                    continue;
                }
                if (line.StartsWith(':')) continue; // keepalive comment
                if (line.StartsWith("event:", StringComparison.Ordinal)) type = line[6..].Trim();
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    if (data.Length > 0) data.Append('\n');
                    data.Append(line.AsSpan(line.Length > 5 && line[5] == ' ' ? 6 : 5));
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            Error = ex;
        }
        finally
        {
            EndedAt = DateTimeOffset.UtcNow;
        }
    }
}
