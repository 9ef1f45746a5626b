using System.Diagnostics;

namespace CodexLb.Gateway.Streaming;

/// <summary>
/// Keepalive comments of one SSE relay. They ride on the owner's heartbeats (every 500 ms while a turn is quiet, surfaced
/// by <c>TurnStream.MoveNextAsync(heartbeats: true)</c>): a heartbeat after the interval without a write sends one, so
/// no relay waits on a timer per event. A write only marks that one happened (no clock read per relayed event); the next
/// heartbeat dates it, late by at most a heartbeat, which a keepalive interval of seconds does not notice.
/// </summary>
public sealed class SseKeepAlive(PipeBlockWriter writer, TimeSpan interval)
{
    private long _lastWrite = Stopwatch.GetTimestamp();
    private bool _wrote;

    /// <summary>Something went to the client.</summary>
    public void Wrote() => _wrote = true;

    public async ValueTask HeartbeatAsync(CancellationToken aborted)
    {
        var now = Stopwatch.GetTimestamp();
        if (_wrote)
        {
            _wrote = false;
            _lastWrite = now;
            return;
        }
        if (Stopwatch.GetElapsedTime(_lastWrite, now) < interval) return;
        SseWriter.WriteComment(writer, "keepalive"u8);
        await writer.FlushAsync(aborted);
        _lastWrite = now;
    }
}
