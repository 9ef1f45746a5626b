using System.Threading.Channels;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// The caller's side of a turn. Before the first event it can still reject with a status; after it, failures become a
/// <c>response.failed</c> event, because bytes already reached the client.
/// </summary>
public sealed class TurnSink
{
    private readonly Channel<TurnEvent> _channel = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true, SingleWriter = true });
    private int _lastSequence = -1;

    public bool Started { get; private set; }

    /// <summary>How the turn ended for the client: the terminal event type, or rejected:/failed: with the code.</summary>
    public string Outcome { get; private set; } = "none";

    public ChannelReader<TurnEvent> Reader => _channel.Reader;

    public void Relay(UpstreamEvent upstreamEvent)
    {
        Started = true;
        _lastSequence++;
        if (EventTypes.IsTerminal(upstreamEvent.Type)) Outcome = upstreamEvent.Type["response.".Length..];
        _channel.Writer.TryWrite(new TurnEvent(upstreamEvent.Type, upstreamEvent.Data));
    }

    public void Reject(OpenAIError error)
    {
        if (Started) { Fail(error, null); return; }
        Outcome = "rejected:" + error.Code;
        _channel.Writer.TryWrite(TurnEvent.Rejected(new TurnRejection(error.Status, error.Code, error.Message, error.Type, error.Param, error.RetryAfterSeconds)));
    }

    /// <summary>Ends a started stream with <c>response.failed</c> carrying the error's code.</summary>
    public void Fail(OpenAIError error, string? responseId)
    {
        if (!Started) { Reject(error); return; }
        Outcome = "failed:" + error.Code;
        _channel.Writer.TryWrite(new TurnEvent(EventTypes.Failed, ResponseEvents.BuildFailed(error, responseId, ++_lastSequence)));
    }

    public void Heartbeat() => _channel.Writer.TryWrite(TurnEvent.Heartbeat);

    public void Complete() => _channel.Writer.TryComplete();
}
