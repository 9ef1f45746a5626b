using System.Threading.Channels;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// The caller's side of a turn. Before the first event it can still reject with a status; after it, failures become a
/// <c>response.failed</c> event, because bytes already reached the client. While the turn is quiet in any phase
/// (queued, connecting, waiting for the provider, saving), it sends heartbeats so the caller can tell a slow turn from a
/// dead owner.
/// </summary>
public sealed class TurnSink
{
    private readonly Channel<TurnEvent> _channel = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true });
    private readonly PeriodicTimer _heartbeat;
    private int _lastSequence = -1;
    private long _lastWrite = Environment.TickCount64;

    public TurnSink(TimeSpan heartbeatInterval)
    {
        _heartbeat = new PeriodicTimer(heartbeatInterval);
        _ = HeartbeatAsync(heartbeatInterval);
    }

    // Ends when Complete disposes the timer: a pending wait then returns false (no exception on the hot path).
    private async Task HeartbeatAsync(TimeSpan interval)
    {
        while (await _heartbeat.WaitForNextTickAsync().ConfigureAwait(false))
            if (Environment.TickCount64 - Volatile.Read(ref _lastWrite) >= interval.TotalMilliseconds * 0.9)
                Write(TurnEvent.Heartbeat);
    }

    private void Write(TurnEvent turnEvent)
    {
        Volatile.Write(ref _lastWrite, Environment.TickCount64);
        _channel.Writer.TryWrite(turnEvent);
    }

    public bool Started { get; private set; }

    /// <summary>How the turn ended for the client: the terminal event type, or rejected:/failed: with the code.</summary>
    public string Outcome { get; private set; } = "none";

    public ChannelReader<TurnEvent> Reader => _channel.Reader;

    public void Relay(UpstreamEvent upstreamEvent)
    {
        Started = true;
        _lastSequence++;
        if (EventTypes.IsTerminal(upstreamEvent.Type)) Outcome = upstreamEvent.Type["response.".Length..];
        Write(new TurnEvent(upstreamEvent.Type, upstreamEvent.Data));
    }

    public void Reject(OpenAIError error)
    {
        if (Started) { Fail(error, null); return; }
        Outcome = "rejected:" + error.Code;
        Write(TurnEvent.Rejected(new TurnRejection(error.Status, error.Code, error.Message, error.Type, error.Param, error.RetryAfterSeconds)));
    }

    /// <summary>Ends a started stream with <c>response.failed</c> carrying the error's code.</summary>
    public void Fail(OpenAIError error, string? responseId)
    {
        if (!Started) { Reject(error); return; }
        Outcome = "failed:" + error.Code;
        Write(new TurnEvent(EventTypes.Failed, ResponseEvents.BuildFailed(error, responseId, ++_lastSequence)));
    }

    public void Complete()
    {
        _heartbeat.Dispose();
        _channel.Writer.TryComplete();
    }
}
