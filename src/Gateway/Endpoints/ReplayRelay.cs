using CodexLb.Gateway.Streaming;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Responses;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// A response's events streamed by its id as SSE: those numbered after the last one the client has only. Started at its
/// first write, or given the writer of a stream already under way (a background create that goes on by id).
/// </summary>
internal sealed class ReplayRelay(HttpContext context, string id, TimeSpan keepAliveInterval, long? startingAfter, PipeBlockWriter? started = null,
    StreamedOutputs? outputs = null)
{
    private PipeBlockWriter? _writer = started;
    private SseKeepAlive? _keepAlive = started is null ? null : new SseKeepAlive(started, keepAliveInterval);
    private long _last = startingAfter ?? -1;
    private readonly StreamedOutputs _outputs = outputs ?? new StreamedOutputs();
    private bool _carried = started is not null; // this stream carried events of the response: a new run continues them

    public HttpContext Context => context;

    public bool Started => _writer is not null;

    /// <summary>The terminal event the client got, once it went by (null when the relay gave up: see <see cref="FailAsync"/>).</summary>
    public TurnEvent? Terminal { get; private set; }

    private async ValueTask<PipeBlockWriter> WriterAsync()
    {
        if (_writer is null)
        {
            _writer = await SseWriter.StartAsync(context);
            _keepAlive = new SseKeepAlive(_writer, keepAliveInterval);
        }
        return _writer;
    }

    /// <summary>Writes an event the client does not have yet; true once the terminal event went by (written or not).</summary>
    public async ValueTask<bool> WriteAsync(TurnEvent turnEvent)
    {
        var sequence = EventReader.ReadSequenceNumber(turnEvent.Data);
        if (sequence is null || sequence > _last)
        {
            var writer = await WriterAsync();
            // A new run of the response (its earlier one was lost) on a stream that carried the earlier one: closed first.
            if (turnEvent.Type == EventTypes.Created && _carried)
                foreach (var closing in _outputs.BeginNewRun(_last + 1))
                    Write(writer, EventTypes.OutputItemDone, closing, EventReader.ReadSequenceNumber(closing));
            Write(writer, turnEvent.Type, _outputs.Renumber(turnEvent.Type, turnEvent.Data), sequence);
            _keepAlive!.Wrote();
        }
        if (!EventTypes.IsTerminal(turnEvent.Type)) return false;
        Terminal = turnEvent;
        await EndAsync();
        return true;
    }

    /// <summary>Writes an event and notes what the client now has: its items, and the last number it got.</summary>
    private void Write(PipeBlockWriter writer, string type, byte[] data, long? sequence)
    {
        SseWriter.WriteEvent(writer, type, data);
        _outputs.Observe(type, data);
        _carried = true;
        if (sequence is { } written) _last = written;
    }

    public async ValueTask HeartbeatAsync()
    {
        await WriterAsync();
        await _keepAlive!.HeartbeatAsync(context.RequestAborted);
    }

    public async ValueTask FlushAsync()
    {
        if (_writer is not null) await _writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>A response that is over, from its stored object: created (unless the client has it), then its terminal event.</summary>
    public async Task WriteSettledAsync(byte[] final)
    {
        if (_last < 0) await WriteAsync(new TurnEvent(EventTypes.Created, ResponseEvents.BuildWithResponse(EventTypes.Created, ResponseObjects.WithStatus(final, "in_progress"), 0)));
        // Items an earlier run left open on this stream are closed: a stream helper refuses a completion that leaves one.
        else foreach (var closing in _outputs.BeginNewRun(_last + 1)) Write(await WriterAsync(), EventTypes.OutputItemDone, closing, EventReader.ReadSequenceNumber(closing));
        var terminal = ResponseEvents.TerminalTypeOf(EventReader.ReadString(final, "status"));
        await WriteAsync(new TurnEvent(terminal, ResponseEvents.BuildWithResponse(terminal, final, _last + 1)));
    }

    /// <summary>Ends the stream with <c>response.failed</c> carrying <paramref name="error"/>'s (retryable) code.</summary>
    public async Task FailAsync(OpenAIError error)
    {
        SseWriter.WriteEvent(await WriterAsync(), ResponseEvents.Failed, ResponseEvents.BuildFailed(error, id, _last + 1));
        await EndAsync();
    }

    private async Task EndAsync()
    {
        await SseWriter.EndAsync(context, await WriterAsync());
    }
}
