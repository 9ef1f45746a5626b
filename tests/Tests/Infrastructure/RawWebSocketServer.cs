using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CodexLb.Grains.Upstream.WebSockets;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// A websocket server on loopback that writes and reads raw frames, byte for byte: what a provider may send that the
/// simulator never does (fragments, pings, masked frames, odd splits), and a look at exactly what the client wrote.
/// </summary>
public sealed class RawWebSocketServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public RawWebSocketServer() => _listener.Start();

    public Uri Uri => new($"ws://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v1/responses");

    /// <summary>Accepts one connection and answers its upgrade with <paramref name="answer"/> (given the accept value).</summary>
    public async Task<RawPeer> AcceptAsync(Func<string, string>? answer = null)
    {
        var client = await _listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var request = new StringBuilder();
        var one = new byte[1];
        while (!request.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("the client left during the handshake");
            request.Append((char)one[0]);
        }
        var key = request.ToString().Split("\r\n").First(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))[18..].Trim();
        var accept = WebSocketHandshake.AcceptFor(key);
        var response = answer?.Invoke(accept)
            ?? $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
        return new RawPeer(client, stream, request.ToString());
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The server's end of one connection.</summary>
public sealed class RawPeer(TcpClient client, NetworkStream stream, string request) : IDisposable
{
    public string Request { get; } = request;

    /// <summary>One server frame (unmasked unless <paramref name="mask"/>), written in pieces of <paramref name="chunk"/> bytes.</summary>
    public async Task SendAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true, int chunk = int.MaxValue, bool mask = false, byte reserved = 0)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | reserved | opcode) };
        var maskBit = mask ? 0x80 : 0;
        if (payload.Length < 126) header.Add((byte)(maskBit | payload.Length));
        else if (payload.Length <= ushort.MaxValue) header.AddRange([(byte)(maskBit | 126), (byte)(payload.Length >> 8), (byte)payload.Length]);
        else
        {
            header.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            header.AddRange(length);
        }
        var body = payload.ToArray();
        if (mask)
        {
            byte[] key = [1, 2, 3, 4];
            header.AddRange(key);
            for (var i = 0; i < body.Length; i++) body[i] ^= key[i & 3];
        }
        var frame = header.Concat(body).ToArray();
        for (var offset = 0; offset < frame.Length; offset += chunk)
        {
            await stream.WriteAsync(frame.AsMemory(offset, Math.Min(chunk, frame.Length - offset)));
            await stream.FlushAsync();
        }
    }

    /// <summary>Writes a frame header that announces <paramref name="length"/> payload bytes, and nothing after it.</summary>
    public async Task SendHeaderOnlyAsync(byte opcode, ulong length)
    {
        var header = new byte[10];
        header[0] = (byte)(0x80 | opcode);
        header[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), length);
        await stream.WriteAsync(header);
    }

    public Task SendTextAsync(string text, bool fin = true, int chunk = int.MaxValue) =>
        SendAsync(0x1, Encoding.UTF8.GetBytes(text), fin, chunk);

    /// <summary>The client's next frame: its opcode, FIN bit, mask and unmasked payload.</summary>
    public async Task<(byte Opcode, bool Fin, byte[] Mask, byte[] Payload)> ReadAsync()
    {
        var head = await ReadExactlyAsync(2);
        if ((head[1] & 0x80) == 0) throw new InvalidDataException("a client frame without a mask");
        long length = head[1] & 0x7F;
        if (length == 126) length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2));
        else if (length == 127) length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8));
        var mask = await ReadExactlyAsync(4);
        var payload = await ReadExactlyAsync((int)length);
        for (var i = 0; i < payload.Length; i++) payload[i] ^= mask[i & 3];
        return ((byte)(head[0] & 0x0F), (head[0] & 0x80) != 0, mask, payload);
    }

    /// <summary>Whether the client closed the connection (a read sees its end) within <paramref name="timeout"/>.</summary>
    public async Task<bool> EndedAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { return await stream.ReadAsync(new byte[1], cancel.Token) == 0; }
        catch (IOException) { return true; }
        catch (OperationCanceledException) { return false; }
    }

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        var bytes = new byte[count];
        await stream.ReadExactlyAsync(bytes);
        return bytes;
    }

    public void Dispose() => client.Dispose();
}
