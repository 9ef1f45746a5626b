using System.Diagnostics;
using CodexLb.Protocol.Events;

namespace CodexLb.Gateway.Telemetry;

/// <summary>
/// One turn's span and measurements at the gateway. GenAI attributes carry the model and token counts, never content;
/// the conversation appears only as its key, which is already a hash.
/// </summary>
public sealed class TurnTelemetry : IDisposable
{
    private readonly Activity? _activity;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly string _transport;
    private string _outcome = "aborted";
    private bool _firstByte;

    public TurnTelemetry(string transport)
    {
        _transport = transport;
        _activity = GatewayMetrics.Source.StartActivity("codexlb.turn", ActivityKind.Server);
        _activity?.SetTag("gen_ai.operation.name", "chat");
        _activity?.SetTag("codexlb.transport", transport);
        GatewayMetrics.StreamStarted();
    }

    /// <summary>Called just before the grain call; returns the gateway's own work so far in microseconds.</summary>
    public long Dispatching(string conversationKey, string? model, bool anchored)
    {
        var elapsed = Stopwatch.GetElapsedTime(_start);
        GatewayMetrics.Overhead.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("transport", _transport));
        if (_activity is not null)
        {
            _activity.SetTag("gen_ai.request.model", model);
            _activity.SetTag("codexlb.conversation", conversationKey);
            _activity.SetTag("codexlb.client_anchored", anchored);
        }
        return (long)(elapsed.TotalMicroseconds);
    }

    public void FirstByte()
    {
        if (_firstByte) return;
        _firstByte = true;
        GatewayMetrics.TimeToFirstByte.Record(Stopwatch.GetElapsedTime(_start).TotalMilliseconds, new KeyValuePair<string, object?>("transport", _transport));
    }

    public void Rejected(int status, string code)
    {
        _outcome = "rejected";
        _activity?.SetTag("error.type", code);
        _activity?.SetTag("http.response.status_code", status);
        _activity?.SetStatus(status >= 500 ? ActivityStatusCode.Error : ActivityStatusCode.Unset);
    }

    public void Ended(string terminalType, EventSummary? summary)
    {
        _outcome = EventTypes.OutcomeOf(terminalType);
        if (_activity is null || summary is null) return;
        _activity.SetTag("gen_ai.response.id", summary.ResponseId);
        if (summary.InputTokens is { } input) _activity.SetTag("gen_ai.usage.input_tokens", input);
        if (summary.OutputTokens is { } output) _activity.SetTag("gen_ai.usage.output_tokens", output);
        if (summary.ErrorCode is { } code) { _activity.SetTag("error.type", code); _activity.SetStatus(ActivityStatusCode.Error); }
    }

    public void Dispose()
    {
        GatewayMetrics.StreamEnded();
        GatewayMetrics.Turns.Add(1, _transport, _outcome);
        _activity?.Dispose();
    }
}
