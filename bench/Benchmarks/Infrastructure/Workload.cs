using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>The samples of one measured phase.</summary>
public sealed class PhaseResult
{
    public List<double> Ttfb { get; } = [];
    public List<double> Ttlb { get; } = [];

    /// <summary>When each turn of <see cref="Ttlb"/> ended (UTC ticks, the clock the runtime's pause events use).</summary>
    public List<long> Ends { get; } = [];
    public int Errors { get; set; }

    /// <summary>The HTTP status of each failed turn (0: no answer, or a websocket turn that ended without response.completed).</summary>
    public Dictionary<int, int> ErrorStatuses { get; } = [];

    public long Events { get; set; }
    public long Bytes { get; set; }
    public double WallSeconds { get; set; }
    public double CpuSeconds { get; set; }
    public long AllocatedBytes { get; set; }
    public int Turns => Ttlb.Count;

    public void Add(TurnTiming t)
    {
        lock (this)
        {
            if (!t.Completed)
            {
                Errors++;
                ErrorStatuses[t.Status] = ErrorStatuses.GetValueOrDefault(t.Status) + 1;
                return;
            }
            Ttfb.Add(t.TtfbMicros);
            Ttlb.Add(t.TtlbMicros);
            Ends.Add(DateTime.UtcNow.Ticks);
            Events += t.Events;
            Bytes += t.Bytes;
        }
    }
}

/// <summary>Closed-loop load: N workers, each sending its next turn as soon as the previous one ended.</summary>
public static class Workload
{
    /// <summary>Runs <paramref name="turnsPerWorker"/> turns on each of <paramref name="workers"/> workers, or until the deadline.</summary>
    public static async Task<PhaseResult> RunAsync(int workers, int turnsPerWorker, Func<int, Task<TurnTiming>> turn, TimeSpan? duration = null)
    {
        var result = new PhaseResult();
        var deadline = duration is { } d ? Stopwatch.GetTimestamp() + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        var cpu = CpuTime.Now();
        var allocated = GC.GetTotalAllocatedBytes(false);
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < turnsPerWorker && Stopwatch.GetTimestamp() < deadline; i++)
            {
                try
                {
                    result.Add(await turn(w));
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or WebSocketException)
                {
                    lock (result) result.Errors++;
                }
            }
        })));
        result.WallSeconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        result.CpuSeconds = CpuTime.Now() - cpu;
        result.AllocatedBytes = GC.GetTotalAllocatedBytes(false) - allocated;
        return result;
    }
}

/// <summary>
/// A Responses WebSocket-mode client: of the simulator directly (the relay scenario's second baseline), or of the
/// gateway (<see cref="ConnectAsync(Uri, string, string?)"/>, the Codex CLI's default transport).
/// </summary>
public sealed class DirectWebSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private byte[] _buffer = new byte[64 * 1024];

    /// <summary>The start of the last failure frame (<c>response.failed</c> or <c>error</c>).</summary>
    public string? LastFailure { get; private set; }

    /// <summary>The response id of the last <c>response.completed</c> frame (kept only when connected with a session id).</summary>
    public string? LastResponseId { get; private set; }

    private bool _keepResponseId;

    public static Task<DirectWebSocket> ConnectAsync(Uri uri) => ConnectAsync(uri, Product.UpstreamKey, null);

    /// <param name="sessionId">sent as <c>session-id</c> on the upgrade, like the Codex CLI; also keeps <see cref="LastResponseId"/>.</param>
    public static async Task<DirectWebSocket> ConnectAsync(Uri uri, string apiKey, string? sessionId)
    {
        var client = new DirectWebSocket { _keepResponseId = sessionId is not null };
        client._socket.Options.SetRequestHeader("Authorization", "Bearer " + apiKey);
        if (sessionId is not null)
        {
            client._socket.Options.SetRequestHeader("OpenAI-Beta", "responses_websockets=2026-02-06");
            client._socket.Options.SetRequestHeader("session-id", sessionId);
        }
        await client._socket.ConnectAsync(uri, CancellationToken.None);
        return client;
    }

    /// <summary>Sends one <c>response.create</c> (the body with its <c>type</c>) and reads frames until <c>response.completed</c>.</summary>
    public async Task<TurnTiming> TurnAsync(byte[] body)
    {
        var frame = new byte[body.Length + 26];
        Encoding.UTF8.GetBytes("{\"type\":\"response.create\",").CopyTo(frame, 0);
        body.AsSpan(1).CopyTo(frame.AsSpan(26));
        var start = Stopwatch.GetTimestamp();
        await _socket.SendAsync(frame.AsMemory(0, 26 + body.Length - 1), WebSocketMessageType.Text, true, CancellationToken.None);
        long first = 0, bytes = 0;
        var events = 0;
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult received;
            do
            {
                if (length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
                received = await _socket.ReceiveAsync(_buffer.AsMemory(length), CancellationToken.None);
                length += received.Count;
            } while (!received.EndOfMessage);
            if (received.MessageType == WebSocketMessageType.Close) return new TurnTiming(start, first, Stopwatch.GetTimestamp(), false, 0, bytes, events);
            if (first == 0) first = Stopwatch.GetTimestamp();
            bytes += length;
            events++;
            var head = _buffer.AsSpan(0, Math.Min(length, 64));
            if (head.IndexOf("\"response.completed\""u8) >= 0)
            {
                var end = Stopwatch.GetTimestamp();
                if (_keepResponseId) LastResponseId = Bodies.ResponseIdOfEvent(_buffer.AsSpan(0, length));
                return new TurnTiming(start, first, end, true, 200, bytes, events);
            }
            if (head.IndexOf("\"response.failed\""u8) >= 0 || head.IndexOf("\"type\":\"error\""u8) >= 0)
            {
                LastFailure = Encoding.UTF8.GetString(_buffer.AsSpan(0, Math.Min(length, 300)));
                return new TurnTiming(start, first, Stopwatch.GetTimestamp(), false, 200, bytes, events);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        _socket.Dispose();
    }
}
