using System.Diagnostics;
using System.IO.Pipelines;

namespace CodexLb.Gateway.Streaming;

/// <summary>
/// Keepalive comments of one SSE relay. They ride on the owner's heartbeats (every 500 ms while a turn is quiet, surfaced
/// by <c>TurnStream.MoveNextAsync(heartbeats: true)</c>): a heartbeat after the interval without a write sends one, so
/// no relay waits on a timer per event.
/// </summary>
public sealed class SseKeepAlive(PipeWriter writer, TimeSpan interval)
{
    private long _lastWrite = Stopwatch.GetTimestamp();

    /// <summary>Something went to the client.</summary>
    public void Wrote() => _lastWrite = Stopwatch.GetTimestamp();

    public async ValueTask HeartbeatAsync(CancellationToken aborted)
    {
        if (Stopwatch.GetElapsedTime(_lastWrite) < interval) return;
        SseWriter.WriteComment(writer, "keepalive"u8);
        await writer.FlushAsync(aborted);
        Wrote();
    }
}
