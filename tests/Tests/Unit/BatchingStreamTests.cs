using System.Net.WebSockets;
using System.Text;
using CodexLb.Protocol.Streaming;

namespace CodexLb.Tests.Unit;

/// <summary>The client websocket's connection wrapper: held frames go out in one write, in order; nothing is held otherwise.</summary>
public sealed class BatchingStreamTests
{
    /// <summary>Records each write the wrapper makes to the connection.</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public List<byte[]> Writes { get; } = [];
        public bool Fail { get; set; }
        public int Flushes { get; private set; }
        /// <summary>When set, a write waits for it: a write still on its way to a slow client.</summary>
        public TaskCompletionSource? Stall { get; set; }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Fail) throw new IOException("connection reset");
            Writes.Add(buffer.ToArray());
            if (Stall is { } stall) await stall.Task;
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }
    }

    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Held_writes_go_out_as_one_write_in_order_and_later_writes_pass_straight_through()
    {
        var inner = new RecordingStream();
        await using var stream = new BatchingStream(inner);

        await stream.WriteAsync(Bytes("a"));
        Assert.Single(inner.Writes); // not held: straight through

        stream.Hold();
        await stream.WriteAsync(Bytes("b"));
        await stream.WriteAsync(Bytes(new string('c', 40_000))); // grows past the first buffer
        await stream.WriteAsync(Bytes("d"));
        Assert.Single(inner.Writes); // held: nothing sent yet

        await stream.ReleaseAsync(CancellationToken.None);
        Assert.Equal(2, inner.Writes.Count);
        Assert.Equal("b" + new string('c', 40_000) + "d", Encoding.UTF8.GetString(inner.Writes[1]));

        await stream.WriteAsync(Bytes("e"));
        Assert.Equal(["a", "b" + new string('c', 40_000) + "d", "e"], inner.Writes.Select(w => Encoding.UTF8.GetString(w)));
        await stream.ReleaseAsync(CancellationToken.None); // nothing held: no empty write
        Assert.Equal(3, inner.Writes.Count);
    }

    [Fact]
    public async Task A_hold_says_whether_a_write_is_still_on_its_way_and_held_flushes_stay_off_the_connection()
    {
        var inner = new RecordingStream { Stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var stream = new BatchingStream(inner);

        var ping = stream.WriteAsync(Bytes("ping")).AsTask(); // a keepalive written through, waiting on the connection
        Assert.False(ping.IsCompleted);
        Assert.False(stream.Hold()); // a frame sent now would wait behind it: the caller keeps its token
        inner.Stall.SetResult();
        inner.Stall = null;
        await ping.WaitAsync(TimeSpan.FromSeconds(30));
        await stream.ReleaseAsync(CancellationToken.None);

        Assert.True(stream.Hold()); // nothing in flight: every write until the release only appends
        await stream.WriteAsync(Bytes("frame"));
        await stream.FlushAsync();
        Assert.Equal(0, inner.Flushes); // held: the websocket's flush after each frame does not reach the connection
        await stream.ReleaseAsync(CancellationToken.None);
        await stream.FlushAsync();
        Assert.Equal(1, inner.Flushes); // not held: flushes pass through
        Assert.Equal(["ping", "frame"], inner.Writes.Select(w => Encoding.UTF8.GetString(w)));
    }

    [Fact]
    public async Task A_connection_that_is_gone_fails_the_release_as_the_websocket_would()
    {
        var inner = new RecordingStream();
        await using var stream = new BatchingStream(inner);
        stream.Hold();
        await stream.WriteAsync(Bytes("frame"));
        inner.Fail = true;

        var failed = await Assert.ThrowsAsync<WebSocketException>(async () => await stream.ReleaseAsync(CancellationToken.None));
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, failed.WebSocketErrorCode);
        inner.Fail = false;
        await stream.WriteAsync(Bytes("next")); // the failed batch is not resent
        Assert.Equal("next", Encoding.UTF8.GetString(Assert.Single(inner.Writes)));
    }

    [Fact]
    public async Task A_real_websocket_over_it_sends_held_frames_that_a_client_reads_intact()
    {
        var inner = new RecordingStream();
        await using var stream = new BatchingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true });

        stream.Hold();
        foreach (var text in new[] { "{\"type\":\"one\"}", "{\"type\":\"two\"}", "{\"type\":\"three\"}" })
            await socket.SendAsync(Bytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        await stream.ReleaseAsync(CancellationToken.None);

        // One write carried three frames; a client websocket reading those bytes gets the three messages.
        var wire = Assert.Single(inner.Writes);
        using var reader = WebSocket.CreateFromStream(new ReadOnlyDuplex(wire), new WebSocketCreationOptions { IsServer = false });
        var received = new List<string>();
        var buffer = new byte[1024];
        for (var i = 0; i < 3; i++)
        {
            var result = await reader.ReceiveAsync(buffer, CancellationToken.None);
            Assert.True(result.EndOfMessage);
            received.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
        Assert.Equal(["{\"type\":\"one\"}", "{\"type\":\"two\"}", "{\"type\":\"three\"}"], received);
    }

    [Fact]
    public async Task Frames_appended_directly_interleave_with_the_websockets_own_and_a_client_reads_each_length_form()
    {
        var inner = new RecordingStream();
        await using var stream = new BatchingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true });
        // The three length forms of RFC 6455 5.2: 7 bits, 16 bits (126 and more), 64 bits (past 65,535).
        string[] texts = ["{\"type\":\"short\"}", new string('m', 126), "{\"via\":\"the websocket\"}", new string('l', 70_000), new string('n', 125)];

        Assert.False(stream.TryAppendTextFrame(Bytes(texts[0]).Span)); // nothing held: the caller sends it
        Assert.Empty(inner.Writes);
        Assert.True(stream.Hold());
        Assert.True(stream.TryAppendTextFrame(Bytes(texts[0]).Span));
        Assert.True(stream.TryAppendTextFrame(Bytes(texts[1]).Span));
        await socket.SendAsync(Bytes(texts[2]), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.True(stream.TryAppendTextFrame(Bytes(texts[3]).Span));
        Assert.True(stream.TryAppendTextFrame(Bytes(texts[4]).Span));
        Assert.Empty(inner.Writes);
        await stream.ReleaseAsync(CancellationToken.None);

        var wire = Assert.Single(inner.Writes);
        using var reader = WebSocket.CreateFromStream(new ReadOnlyDuplex(wire), new WebSocketCreationOptions { IsServer = false });
        var received = new List<string>();
        var buffer = new byte[100_000];
        foreach (var _ in texts)
        {
            var result = await reader.ReceiveAsync(buffer, CancellationToken.None);
            Assert.Equal((WebSocketMessageType.Text, true), (result.MessageType, result.EndOfMessage));
            received.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
        Assert.Equal(texts, received);
    }

    [Fact]
    public async Task A_direct_frame_is_refused_while_a_write_is_on_its_way()
    {
        var inner = new RecordingStream { Stall = new TaskCompletionSource() };
        await using var stream = new BatchingStream(inner);
        var ping = stream.WriteAsync(Bytes("ping")); // not held: on its way to a slow client
        Assert.False(stream.Hold());
        Assert.False(stream.TryAppendTextFrame(Bytes("{}").Span)); // the caller sends it after the ping, in order
        inner.Stall.SetResult();
        await ping;
        Assert.True(stream.TryAppendTextFrame(Bytes("{}").Span));
        await stream.ReleaseAsync(CancellationToken.None);
        Assert.Equal([0x81, 2, (byte)'{', (byte)'}'], inner.Writes[^1]);
    }

    /// <summary>Bytes to read, writes dropped: the receiving end of one recorded write.</summary>
    private sealed class ReadOnlyDuplex(byte[] data) : MemoryStream(data)
    {
        public override void Write(byte[] buffer, int offset, int count) { }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
