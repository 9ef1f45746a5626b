using System.Text;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Events;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The upstream socket's reads against a real websocket (the simulator on loopback): a read that waits too long times
/// out, a cancelled read is a cancellation (never a timeout), and a socket whose read timed out or was cancelled still
/// times out and reads correctly afterwards (the read timeout is reused between reads).
/// </summary>
public sealed class UpstreamSocketReadTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private static async Task<(UpstreamSimulatorHost Sim, UpstreamSocket Socket)> ConnectAsync(SimulatorOptions? simulator = null)
    {
        var sim = await UpstreamSimulatorHost.StartAsync(simulator);
        var options = new UpstreamOptions { BaseUrl = sim.BaseUrl };
        var socket = await UpstreamSocket.ConnectAsync(options, new AccountLease { Account = "default", Available = true }, TimeProvider.System,
            CancellationToken.None);
        return (sim, socket);
    }

    private static ReadOnlyMemory<byte> Frame(string text) => Encoding.UTF8.GetBytes(Create([User(text)]));

    /// <summary>Reads one answer to its terminal event: it begins with <c>response.created</c> and ends completed.</summary>
    private static async Task AssertWholeAnswerAsync(UpstreamSocket socket)
    {
        var types = new List<string>();
        while (await socket.ReadAsync(Generous, CancellationToken.None) is { } e)
        {
            types.Add(e.Type);
            if (EventTypes.IsTerminal(e.Type)) break;
        }
        Assert.Equal(EventTypes.Created, types[0]);
        Assert.Equal(EventTypes.Completed, types[^1]);
    }

    [Fact]
    public async Task A_silent_provider_times_the_read_out_and_the_socket_reads_normally_after_a_cancelled_read()
    {
        var (sim, socket) = await ConnectAsync();
        await using var _ = sim;
        await using var __ = socket;

        // A normal turn first: every read completes before its timeout, and nothing is left to read afterwards.
        await socket.SendAsync(Frame("hello"), CancellationToken.None);
        await AssertWholeAnswerAsync(socket);

        // Nothing comes: the read times out, twice in a row (the timed-out source is replaced, not reused).
        await Assert.ThrowsAsync<TimeoutException>(async () => await socket.ReadAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None));
        await Assert.ThrowsAsync<TimeoutException>(async () => await socket.ReadAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None));

        // The caller's cancellation is a cancellation, even with a long timeout.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await socket.ReadAsync(Generous, cancel.Token));
        Assert.IsNotType<TimeoutException>(cancelled);
        Assert.Equal(cancel.Token, cancelled.CancellationToken);

        // Still a working socket: the next turn's events all arrive (a long timeout left armed would not fire early either).
        await socket.SendAsync(Frame("again"), CancellationToken.None);
        var first = await socket.ReadFirstAsync(Generous, CancellationToken.None);
        Assert.Equal(EventTypes.Created, first?.Type);
        UpstreamEvent? last = first;
        while (last is { } e && !EventTypes.IsTerminal(e.Type)) last = await socket.ReadAsync(TimeSpan.FromMilliseconds(5000), CancellationToken.None);
        Assert.Equal(EventTypes.Completed, last?.Type);
    }

    [Fact]
    public async Task A_long_answer_arrives_whole_and_in_order_however_many_frames_one_socket_read_brings()
    {
        var (sim, socket) = await ConnectAsync();
        await using var _ = sim;
        await using var __ = socket;

        // 3,000 deltas come in bursts of many frames per socket read: each burst is handed to the reader at once.
        var body = System.Text.Json.Nodes.JsonNode.Parse(Create([User("a long one")]))!.AsObject();
        body["metadata"] = new System.Text.Json.Nodes.JsonObject { ["sim_text_deltas"] = "3000" };
        await socket.SendAsync(Encoding.UTF8.GetBytes(body.ToJsonString()), CancellationToken.None);
        var sequence = new List<long>();
        var deltas = 0;
        while (await socket.ReadAsync(Generous, CancellationToken.None) is { } e)
        {
            sequence.Add(EventReader.ReadSequenceNumber(e.Data) ?? -1);
            if (e.Type == "response.output_text.delta") deltas++;
            if (EventTypes.IsTerminal(e.Type)) break;
        }
        Assert.Equal(3000, deltas);
        Assert.Equal(Enumerable.Range((int)sequence[0], sequence.Count).Select(n => (long)n), sequence); // none lost, none reordered
        Assert.False(socket.MoreAfterRead);
    }

    [Fact]
    public async Task A_hung_response_times_out_the_first_event_read()
    {
        var (sim, socket) = await ConnectAsync();
        await using var _ = sim;
        await using var __ = socket;
        sim.Faults.Add(Fault.Hang());

        await socket.SendAsync(Frame("hang"), CancellationToken.None);

        await Assert.ThrowsAsync<TimeoutException>(async () => await socket.ReadFirstAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.True(socket.IsOpen);
    }

    [Fact]
    public async Task A_send_on_a_socket_that_closed_under_it_fails_as_a_socket_failure_the_grain_replays_and_a_callers_cancel_stays_a_cancel()
    {
        var (sim, socket) = await ConnectAsync();
        await using var _ = sim;
        await using var __ = socket;
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => socket.SendAsync(Frame("never"), cancelled.Token));
        Assert.True(socket.IsOpen); // cancelled before the frame left: the socket is untouched and the next send goes
        await socket.SendAsync(Frame("hello"), CancellationToken.None);
        Assert.Equal(EventTypes.Created, (await socket.ReadFirstAsync(Generous, CancellationToken.None))?.Type);

        // The provider (or the silo's socket budget) dropped the connection: whatever the framework throws for it
        // (disposed, an I/O error, or its own cancellation when it aborted mid-send), the turn sees one kind of failure.
        socket.Evict();
        for (var i = 0; i < 3; i++)
            await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => socket.SendAsync(Frame("after"), CancellationToken.None));
    }

    [Fact]
    public async Task Closing_completes_the_close_handshake_with_the_provider_before_the_connection_is_cut()
    {
        var (sim, socket) = await ConnectAsync();
        await using var _ = sim;
        await socket.SendAsync(Frame("hello"), CancellationToken.None);
        Assert.Equal(EventTypes.Created, (await socket.ReadFirstAsync(Generous, CancellationToken.None))?.Type);
        var connection = sim.Ledger.Snapshot().Connections.Single().Id;

        // The answer's unread frames are dropped; the provider's close reply is awaited (the connection is not reset under it).
        await socket.DisposeAsync();

        Assert.Equal(System.Net.WebSockets.WebSocketState.Closed, socket.State);
        Assert.Equal("closed by bridge", socket.CloseReason);
        var ledger = await sim.Ledger.WaitUntilAsync(l => l.Connections.Single(c => c.Id == connection).EndedBy != ConnectionEnd.Open, Generous);
        Assert.Equal(ConnectionEnd.ClientClosed, ledger.Connections.Single(c => c.Id == connection).EndedBy);
        await socket.DisposeAsync(); // twice is harmless
    }

    [Fact]
    public async Task After_a_large_frame_the_socket_waits_for_the_next_one_holding_no_read_buffer()
    {
        // A long answer: its response.completed repeats all of the text, far past the read buffer kept between frames.
        var (sim, socket) = await ConnectAsync(new SimulatorOptions { TextDeltas = 5_000 });
        await using var _ = sim;
        await using var __ = socket;
        await socket.SendAsync(Frame("a long answer"), CancellationToken.None);
        UpstreamEvent? last = null;
        while (await socket.ReadAsync(Generous, CancellationToken.None) is { } e)
        {
            last = e;
            if (EventTypes.IsTerminal(e.Type)) break;
        }
        Assert.Equal(EventTypes.Completed, last?.Type);
        var completed = last!.Value.Data.Length;
        Assert.True(completed > 16 * 1024, $"the completed frame was only {completed} bytes");

        // The read loop gives its buffer back before it waits again (a zero-byte read): an idle socket keeps no buffer,
        // least of all the one grown for its largest frame.
        var deadline = DateTime.UtcNow + Generous;
        while (socket.ReadBufferCapacity > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(socket.ReadBufferCapacity == 0, $"an idle socket kept a {socket.ReadBufferCapacity}-byte read buffer");
        Assert.True(socket.IsOpen);

        // And it still reads: the next answer arrives whole after the wait without a buffer.
        await socket.SendAsync(Frame("the next answer"), CancellationToken.None);
        await AssertWholeAnswerAsync(socket);
    }
}
