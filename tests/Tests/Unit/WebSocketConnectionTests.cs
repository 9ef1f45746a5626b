using System.Net.WebSockets;
using System.Text;
using CodexLb.Grains.Upstream;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream.WebSockets;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The upstream websocket's client end against a server that writes raw frames on loopback: whatever way the provider
/// splits, fragments and interleaves its frames, whole messages come out; pings are answered, closes are answered,
/// protocol errors end the connection with the right status, and every frame we write is masked afresh.
/// </summary>
public sealed class WebSocketConnectionTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>A raw server, its end of one connection, and our client end on it; disposed together.</summary>
    private sealed class Connected(RawWebSocketServer server, RawPeer peer, WebSocketConnection client) : IAsyncDisposable
    {
        public RawPeer Peer { get; } = peer;
        public WebSocketConnection Client { get; } = client;

        public static async Task<Connected> OpenAsync(TimeProvider? time = null)
        {
            var server = new RawWebSocketServer();
            var accepted = server.AcceptAsync();
            var (stream, _) = await WebSocketHandshake.ConnectAsync(server.Uri, [new("Authorization", "Bearer sk-test")], CancellationToken.None);
            return new Connected(server, await accepted, new WebSocketConnection(stream, time ?? TimeProvider.System));
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            Peer.Dispose();
            await server.DisposeAsync();
        }
    }

    private static async Task<string?> ReceiveTextAsync(WebSocketConnection client) =>
        await client.ReceiveAsync().AsTask().WaitAsync(Generous) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    [Fact]
    public async Task Messages_come_out_whole_however_the_provider_splits_and_fragments_them_and_pings_are_answered()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);
        Assert.Contains("Authorization: Bearer sk-test", peer.Request);

        // Two small messages in one write, then one written a byte at a time (its header arrives in pieces too).
        await peer.SendTextAsync("{\"type\":\"one\"}");
        await peer.SendTextAsync("{\"type\":\"two\"}");
        await peer.SendTextAsync("{\"type\":\"three\"}", chunk: 1);
        Assert.Equal("{\"type\":\"one\"}", await ReceiveTextAsync(client));
        Assert.Equal("{\"type\":\"two\"}", await ReceiveTextAsync(client));
        Assert.Equal("{\"type\":\"three\"}", await ReceiveTextAsync(client));

        // A message in three fragments with a ping between them: the pong carries the ping's payload, the message is whole.
        await peer.SendTextAsync("{\"type\":", fin: false);
        await peer.SendAsync(0x9, Encoding.UTF8.GetBytes("are you there"));
        await peer.SendAsync(0x0, Encoding.UTF8.GetBytes("\"frag"), fin: false, chunk: 3);
        await peer.SendAsync(0x0, Encoding.UTF8.GetBytes("mented\"}"));
        var receive = ReceiveTextAsync(client);
        var pong = await peer.ReadAsync().WaitAsync(Generous);
        Assert.Equal((0xA, true, "are you there"), (pong.Opcode, pong.Fin, Encoding.UTF8.GetString(pong.Payload)));
        Assert.Equal("{\"type\":\"fragmented\"}", await receive);

        // Larger than the read buffer, with a 16-bit and a 64-bit length, split at odd offsets; the last past the largest
        // buffer taken from the pool (1 MB).
        var medium = "{\"d\":\"" + new string('m', 40_000) + "\"}";
        var large = "{\"d\":\"" + new string('é', 150_000) + "\"}";
        var huge = "{\"d\":\"" + new string('h', 2_500_000) + "\"}";
        await peer.SendTextAsync(medium, chunk: 4093);
        await peer.SendTextAsync(large, chunk: 65_537);
        await peer.SendTextAsync(huge, chunk: 1_000_003);
        Assert.Equal(medium, await ReceiveTextAsync(client));
        Assert.Equal(large, await ReceiveTextAsync(client));
        Assert.Equal(huge, await ReceiveTextAsync(client));

        // The buffer grown for those goes back to the pool before the next wait, which holds none, and the connection still reads.
        var after = ReceiveTextAsync(client);
        var deadline = DateTime.UtcNow + Generous;
        while (client.ReadBufferCapacity > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(client.ReadBufferCapacity == 0, $"the waiting connection kept a {client.ReadBufferCapacity}-byte buffer");
        await peer.SendTextAsync("{\"type\":\"after\"}");
        Assert.Equal("{\"type\":\"after\"}", await after);
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task Every_frame_the_client_writes_is_masked_with_a_fresh_mask()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);

        var messages = new[] { "a", new string('b', 125), new string('c', 126), new string('d', 70_000), "{\"é\":1}" };
        foreach (var message in messages) await client.SendTextAsync(Encoding.UTF8.GetBytes(message));
        var masks = new HashSet<string>();
        foreach (var message in messages)
        {
            var frame = await peer.ReadAsync().WaitAsync(Generous);
            Assert.Equal((0x1, true), (frame.Opcode, frame.Fin));
            Assert.Equal(message, Encoding.UTF8.GetString(frame.Payload));
            masks.Add(Convert.ToHexString(frame.Mask));
        }
        Assert.Equal(messages.Length, masks.Count);
    }

    [Fact]
    public async Task A_close_from_the_provider_is_answered_with_its_status_and_ends_the_reads()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);

        await peer.SendTextAsync("{\"type\":\"last\"}");
        await peer.SendAsync(0x8, new byte[] { 0x03, 0xE9, (byte)'b', (byte)'y', (byte)'e' }); // 1001, "bye"
        Assert.Equal("{\"type\":\"last\"}", await ReceiveTextAsync(client));
        Assert.Null(await ReceiveTextAsync(client));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        Assert.Equal(WebSocketState.Closed, client.State);

        var reply = await peer.ReadAsync().WaitAsync(Generous);
        Assert.Equal((0x8, "03E9"), (reply.Opcode, Convert.ToHexString(reply.Payload)));
        Assert.True(await peer.EndedAsync(Generous));
        await Assert.ThrowsAsync<WebSocketException>(async () => await client.SendTextAsync("{}"u8.ToArray()));
    }

    [Fact]
    public async Task Our_close_is_sent_and_the_providers_reply_completes_it()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);

        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        Assert.Equal(WebSocketState.CloseSent, client.State);
        var close = await peer.ReadAsync().WaitAsync(Generous);
        Assert.Equal((0x8, "\u0003\u00e8bye"), (close.Opcode, Encoding.Latin1.GetString(close.Payload)));

        // The provider answers and then leaves the TCP connection open: the client gives it its second, then ends it.
        await peer.SendAsync(0x8, new byte[] { 0x03, 0xE8 });
        Assert.Null(await ReceiveTextAsync(client));
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.True(await peer.EndedAsync(Generous));
        client.Abort();
        Assert.Equal(WebSocketState.Closed, client.State); // a completed close stays one
    }

    [Fact]
    public async Task A_provider_that_ends_the_connection_after_answering_our_close_leaves_a_clean_close()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        Assert.Equal(0x8, (await peer.ReadAsync().WaitAsync(Generous)).Opcode);

        await peer.SendAsync(0x8, new byte[] { 0x03, 0xE8 });
        peer.Dispose(); // the server closes the TCP connection first, as RFC 6455 7.1.1 has it
        Assert.Null(await ReceiveTextAsync(client));
        Assert.Equal((WebSocketState.Closed, WebSocketCloseStatus.NormalClosure), (client.State, client.CloseStatus));
    }

    public static TheoryData<string> ProtocolErrors => ["masked", "reserved", "opcode", "long ping", "stray continuation", "interleaved", "not utf-8", "too big"];

    [Theory]
    [MemberData(nameof(ProtocolErrors))]
    public async Task A_frame_that_breaks_the_protocol_ends_the_connection_with_the_status_it_earned(string fault)
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);

        var expected = fault switch { "not utf-8" => WebSocketCloseStatus.InvalidPayloadData, "too big" => WebSocketCloseStatus.MessageTooBig, _ => WebSocketCloseStatus.ProtocolError };
        var send = fault switch
        {
            "masked" => SendInOrderAsync(() => peer.SendTextAsync("{}"), () => peer.SendAsync(0x1, "{}"u8.ToArray(), mask: true)),
            "reserved" => peer.SendAsync(0x1, "{}"u8.ToArray(), reserved: 0x40),
            "opcode" => peer.SendAsync(0x3, "{}"u8.ToArray()),
            "long ping" => peer.SendAsync(0x9, new byte[126]),
            "stray continuation" => peer.SendAsync(0x0, "{}"u8.ToArray()),
            "interleaved" => SendInOrderAsync(() => peer.SendTextAsync("{", fin: false), () => peer.SendTextAsync("{}")),
            "not utf-8" => peer.SendAsync(0x1, new byte[] { 0x7B, 0xC3, 0x28, 0x7D }),
            _ => peer.SendHeaderOnlyAsync(0x1, WebSocketConnection.MaxMessageBytes + 1UL),
        };
        await send;
        if (fault == "masked") Assert.Equal("{}", await ReceiveTextAsync(client)); // the frame before it was fine

        await Assert.ThrowsAsync<WebSocketException>(async () => await client.ReceiveAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(WebSocketState.Aborted, client.State);
        var close = await peer.ReadAsync().WaitAsync(Generous);
        Assert.Equal(0x8, close.Opcode);
        Assert.Equal((int)expected, close.Payload[0] << 8 | close.Payload[1]);
        Assert.True(await peer.EndedAsync(Generous));
    }

    private static async Task SendInOrderAsync(params Func<Task>[] sends)
    {
        foreach (var send in sends) await send();
    }

    [Fact]
    public async Task The_upstream_socket_names_a_provider_that_broke_the_protocol_and_ends_its_reads()
    {
        await using var server = new RawWebSocketServer();
        var accepted = server.AcceptAsync();
        await using var socket = await UpstreamSocket.ConnectAsync(new UpstreamOptions { BaseUrl = new Uri(server.Uri, "/v1") },
            new AccountLease { Account = "default", Available = true }, TimeProvider.System, CancellationToken.None);
        using var peer = await accepted;
        Assert.Contains("GET /v1/responses HTTP/1.1", peer.Request);

        await peer.SendTextAsync("{\"type\":\"response.created\"}");
        await peer.SendAsync(0x1, "{}"u8.ToArray(), mask: true);
        Assert.Equal("response.created", (await socket.ReadAsync(Generous, CancellationToken.None))?.Type);
        Assert.Null(await socket.ReadAsync(Generous, CancellationToken.None));
        Assert.Contains("a masked frame from the server", socket.CloseReason);
        Assert.False(socket.IsOpen);
    }

    [Fact]
    public async Task After_an_abort_nothing_more_is_read_not_even_a_frame_already_buffered()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);
        await peer.SendTextAsync("{\"type\":\"one\"}");
        await peer.SendTextAsync("{\"type\":\"two\"}");
        Assert.Equal("{\"type\":\"one\"}", await ReceiveTextAsync(client));

        client.Abort();
        var lost = await Assert.ThrowsAsync<WebSocketException>(async () => await client.ReceiveAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, lost.WebSocketErrorCode);
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.True(await peer.EndedAsync(Generous));
    }

    [Fact]
    public async Task A_connection_that_ends_without_a_close_is_a_lost_connection()
    {
        await using var connected = await Connected.OpenAsync();
        var (peer, client) = (connected.Peer, connected.Client);
        await peer.SendTextAsync("{\"type\":\"partial\"", fin: false);
        peer.Dispose();
        var lost = await Assert.ThrowsAsync<WebSocketException>(async () => await client.ReceiveAsync().AsTask().WaitAsync(Generous));
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, lost.WebSocketErrorCode);
        Assert.Equal(WebSocketState.Aborted, client.State);
    }

    [Fact]
    public async Task An_idle_connection_sends_a_pong_when_asked_after_enough_silence_and_a_busy_one_does_not()
    {
        var time = new FakeTimeProvider();
        await using var connected = await Connected.OpenAsync(time);
        var (peer, client) = (connected.Peer, connected.Client);
        var silence = TimeSpan.FromSeconds(15);

        time.Advance(silence);
        client.KeepAliveIfIdle(silence);
        var pong = await peer.ReadAsync().WaitAsync(Generous);
        Assert.Equal((0xA, 0), (pong.Opcode, pong.Payload.Length));

        // Asked again within the silence after a send (the pong, then a message): nothing is sent, so the peer's next frames
        // are the two messages.
        time.Advance(silence * 0.75);
        client.KeepAliveIfIdle(silence); // 11 s after the pong: too soon
        await client.SendTextAsync("{\"type\":\"busy\"}"u8.ToArray());
        time.Advance(silence * 0.75);
        client.KeepAliveIfIdle(silence); // 11 s after the message: too soon
        await client.SendTextAsync("{\"type\":\"next\"}"u8.ToArray());
        Assert.Equal("{\"type\":\"busy\"}", Encoding.UTF8.GetString((await peer.ReadAsync().WaitAsync(Generous)).Payload));
        Assert.Equal("{\"type\":\"next\"}", Encoding.UTF8.GetString((await peer.ReadAsync().WaitAsync(Generous)).Payload));
    }

    [Fact]
    public async Task A_refused_or_wrong_upgrade_is_a_handshake_failure_with_the_providers_status_and_retry_after()
    {
        await using var server = new RawWebSocketServer();

        var limited = server.AcceptAsync(_ => "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n");
        var refused = await Assert.ThrowsAsync<UpstreamConnectException>(() => UpstreamSocket.ConnectAsync(
            new UpstreamOptions { BaseUrl = new Uri(server.Uri, "/v1") }, new AccountLease { Account = "default", Available = true },
            TimeProvider.System, CancellationToken.None));
        using (await limited)
            Assert.Equal((429, 7), (refused.Status, refused.RetryAfterSeconds));

        var forged = server.AcceptAsync(_ => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IGl0\r\n\r\n");
        var wrong = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketHandshake.ConnectAsync(server.Uri, [], CancellationToken.None));
        using (await forged)
            Assert.Contains("Sec-WebSocket-Accept", wrong.Message);
    }
}
