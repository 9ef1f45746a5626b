using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace CodexLb.Grains.Upstream.WebSockets;

/// <summary>
/// The client end of one websocket on an upgraded stream (RFC 6455), made for one reader and a relay's frame rate: the
/// reader takes every whole message already in its buffer without awaiting, one socket read brings many frames, and a
/// frame's mask comes from a block of random bytes. The framework's websocket awaited two stream reads per frame through
/// the HTTP connection and asked OpenSSL for each mask (~2 µs): the upstream leg's largest owner per relayed event.
/// Pings are answered, a close is answered, and an idle connection sends a pong when its silo's keep-alive sweep asks
/// (<see cref="KeepAliveIfIdle"/>; one sweep for every socket, not a timer each).
/// </summary>
internal sealed class WebSocketConnection : IDisposable
{
    /// <summary>A message larger than this ends the connection (1009): the provider's largest is a long answer's completion.</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    // Frames are read into a buffer rented from the shared pool and copied out whole. Between bursts the connection
    // waits with a zero-byte read and holds no buffer: an idle one costs no memory for it, and a burst lands in an
    // array the pool handed out recently, still in the core's cache, not in one last touched a conversation ago.
    // A frame larger than PooledReadBytes (a long answer's completion) is read into an array of its own, dropped after
    // it: the pool would keep such arrays per core long after the answer.
    private const int ReadBufferBytes = 16 * 1024, PooledReadBytes = 1024 * 1024;
    private byte[] _buffer = [];
    private int _start, _end; // the unread bytes: _buffer[_start.._end]
    private ArrayBufferWriter<byte>? _fragments; // a message that came in more than one frame
    private WebSocketOpcode _fragmentsOpcode;

    private readonly Stream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TimeProvider _time;
    private long _lastSend;
    private bool _closeSent;
    private int _state = (int)WebSocketState.Open;

    public WebSocketConnection(Stream stream, TimeProvider time)
    {
        _stream = stream;
        _time = time;
        _lastSend = time.GetTimestamp();
    }

    public WebSocketState State => (WebSocketState)Volatile.Read(ref _state);

    /// <summary>The status of the close frame the provider sent (<see cref="WebSocketCloseStatus.Empty"/> when it gave none).</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    internal int ReadBufferCapacity => _buffer.Length;

    /// <summary>The next whole text or binary message; null once the provider closed (then <see cref="CloseStatus"/> says how).</summary>
    /// <exception cref="WebSocketException">The connection was lost or broke the protocol; it is aborted.</exception>
    public ValueTask<byte[]?> ReceiveAsync() => TryTakeWholeMessage(out var message) ? new(message) : ReceiveSlowAsync();

    /// <summary>The next message when it is already buffered whole (one unfragmented data frame); no read, no wait.</summary>
    public bool TryReceiveBuffered(out byte[] message) => TryTakeWholeMessage(out message);

    // The relay's path: one unfragmented data frame already buffered in full.
    private bool TryTakeWholeMessage(out byte[] message)
    {
        message = null!;
        var unread = _buffer.AsSpan(_start, _end - _start);
        if (_fragments is not null || State == WebSocketState.Aborted || !WebSocketFrame.TryReadHeader(unread, out var header, out var error) || error is not null
            || !header.Fin || header.Opcode is not (WebSocketOpcode.Text or WebSocketOpcode.Binary)
            || unread.Length - header.HeaderLength < header.PayloadLength)
            return false;
        var payload = unread.Slice(header.HeaderLength, (int)header.PayloadLength);
        if (header.Opcode == WebSocketOpcode.Text && !Utf8.IsValid(payload)) return false; // the slow path names the error
        message = payload.ToArray();
        _start += header.HeaderLength + payload.Length;
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<byte[]?> ReceiveSlowAsync()
    {
        try
        {
            while (true)
            {
                // Aborted: nothing more is read, not even frames already in the buffer (as with the framework's websocket).
                if (State == WebSocketState.Aborted) throw new ObjectDisposedException(nameof(WebSocketConnection));
                if (TryTakeWholeMessage(out var whole)) return whole;
                if (!WebSocketFrame.TryReadHeader(_buffer.AsSpan(_start, _end - _start), out var header, out var error))
                {
                    await FillAsync(_end - _start + 1).ConfigureAwait(false);
                    continue;
                }
                if (error is not null) throw await FailAsync(WebSocketCloseStatus.ProtocolError, error).ConfigureAwait(false);
                if (header.PayloadLength > MaxMessageBytes - (_fragments?.WrittenCount ?? 0))
                    throw await FailAsync(WebSocketCloseStatus.MessageTooBig, "a message over " + MaxMessageBytes + " bytes").ConfigureAwait(false);
                var frameLength = header.HeaderLength + (int)header.PayloadLength;
                if (_end - _start < frameLength)
                {
                    await FillAsync(frameLength).ConfigureAwait(false);
                    continue;
                }
                var payload = _buffer.AsMemory(_start + header.HeaderLength, (int)header.PayloadLength);
                _start += frameLength;
                switch (header.Opcode)
                {
                    case WebSocketOpcode.Ping:
                        await SendFrameAsync(WebSocketOpcode.Pong, payload).ConfigureAwait(false);
                        break;
                    case WebSocketOpcode.Pong:
                        break;
                    case WebSocketOpcode.Close:
                        await OnCloseAsync(payload).ConfigureAwait(false);
                        return null;
                    case WebSocketOpcode.Continuation when _fragments is null:
                        throw await FailAsync(WebSocketCloseStatus.ProtocolError, "a continuation frame outside a message").ConfigureAwait(false);
                    case WebSocketOpcode.Continuation:
                        _fragments.Write(payload.Span);
                        if (header.Fin) return await FinishAsync(_fragmentsOpcode, _fragments.WrittenMemory).ConfigureAwait(false);
                        break;
                    case not WebSocketOpcode.Continuation when _fragments is not null:
                        throw await FailAsync(WebSocketCloseStatus.ProtocolError, "a new message inside a fragmented one").ConfigureAwait(false);
                    case var opcode when header.Fin: // a whole text frame that is not UTF-8
                        return await FinishAsync(opcode, payload).ConfigureAwait(false);
                    case var opcode:
                        _fragments = new ArrayBufferWriter<byte>(Math.Max(payload.Length * 2, ReadBufferBytes));
                        _fragmentsOpcode = opcode;
                        _fragments.Write(payload.Span);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            Abort();
            throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The upstream connection was lost.", ex);
        }
    }

    private async ValueTask<byte[]?> FinishAsync(WebSocketOpcode opcode, ReadOnlyMemory<byte> message)
    {
        if (opcode == WebSocketOpcode.Text && !Utf8.IsValid(message.Span))
            throw await FailAsync(WebSocketCloseStatus.InvalidPayloadData, "a text message that is not UTF-8").ConfigureAwait(false);
        var bytes = message.ToArray();
        _fragments = null;
        return bytes;
    }

    /// <summary>
    /// Makes room for <paramref name="needed"/> unread bytes and reads once; a stream that ended is a lost connection.
    /// With nothing unread the buffer goes back to the pool first and the wait is a zero-byte read.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(int needed)
    {
        var unread = _end - _start;
        if (unread == 0)
        {
            _start = _end = 0;
            ReturnBuffer();
            await _stream.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false); // completes when bytes (or the end) arrived
        }
        if (needed > _buffer.Length)
        {
            var size = Math.Max(Math.Max(needed, ReadBufferBytes), Math.Min(_buffer.Length * 2, MaxMessageBytes + 16));
            var grown = size <= PooledReadBytes ? ArrayPool<byte>.Shared.Rent(size) : new byte[size];
            _buffer.AsSpan(_start, unread).CopyTo(grown);
            ReturnBuffer();
            _buffer = grown;
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, unread).CopyTo(_buffer);
        }
        _start = 0;
        _end = unread;
        var read = await _stream.ReadAsync(_buffer.AsMemory(_end)).ConfigureAwait(false);
        if (read == 0) throw new IOException("The upstream connection ended without a close frame.");
        _end += read;
    }

    /// <summary>
    /// Gives the read buffer back to the pool. Only the reader calls it, between its reads: a buffer a cut connection's
    /// pending read may still fill is never returned (it is left to the collector).
    /// </summary>
    private void ReturnBuffer()
    {
        if (_buffer.Length is > 0 and <= PooledReadBytes) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private async ValueTask OnCloseAsync(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length == 1) throw await FailAsync(WebSocketCloseStatus.ProtocolError, "a one-byte close payload").ConfigureAwait(false);
        var status = payload.Length >= 2 ? (WebSocketCloseStatus)BinaryPrimitives.ReadUInt16BigEndian(payload.Span) : WebSocketCloseStatus.Empty;
        CloseStatus = status;
        if (!_closeSent)
        {
            // Answered as RFC 6455 5.5.1 asks, echoing the provider's status; a connection already gone changes nothing.
            try { await SendCloseAsync(status == WebSocketCloseStatus.Empty ? null : status, null).ConfigureAwait(false); }
            catch (WebSocketException) { }
            Finish(WebSocketState.Closed);
            return;
        }
        // The reply to our close: as the framework's client does (RFC 6455 7.1.1), the provider gets a second to close the
        // TCP connection first, so the connection's wait state after it stays on the provider's side, not this silo's.
        SetFinalState(WebSocketState.Closed);
        var end = _stream.ReadAsync(new byte[1]).AsTask(); // not the pooled buffer: this read may outlive the connection
        try { await end.WaitAsync(ProviderCloseWait).ConfigureAwait(false); }
        catch (Exception ex) when (ex is TimeoutException or IOException or ObjectDisposedException or SocketException) { }
        _ = end.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        Finish(WebSocketState.Closed);
    }

    private static readonly TimeSpan ProviderCloseWait = TimeSpan.FromSeconds(1);

    /// <summary>Sends one whole text message.</summary>
    /// <exception cref="WebSocketException">The connection is closing or gone; it is aborted.</exception>
    public ValueTask SendTextAsync(ReadOnlyMemory<byte> message) => SendFrameAsync(WebSocketOpcode.Text, message);

    /// <summary>Our close frame (<see cref="WebSocketState.CloseSent"/>); the reader then waits for the provider's.</summary>
    public async Task CloseOutputAsync(WebSocketCloseStatus status, string? description, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(static c => ((WebSocketConnection)c!).Abort(), this))
            await SendCloseAsync(status, description).ConfigureAwait(false);
        Interlocked.CompareExchange(ref _state, (int)WebSocketState.CloseSent, (int)WebSocketState.Open);
    }

    private ValueTask SendCloseAsync(WebSocketCloseStatus? status, string? description)
    {
        var payload = new byte[status is null ? 0 : 2 + Encoding.UTF8.GetByteCount(description ?? "")];
        if (status is { } code)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
            Encoding.UTF8.GetBytes(description ?? "", payload.AsSpan(2));
        }
        return SendFrameAsync(WebSocketOpcode.Close, payload);
    }

    private async ValueTask SendFrameAsync(WebSocketOpcode opcode, ReadOnlyMemory<byte> payload)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        byte[]? frame = null;
        try
        {
            if (_closeSent || State is WebSocketState.Aborted or WebSocketState.Closed)
                throw new WebSocketException(WebSocketError.InvalidState, "The upstream connection is closing or closed.");
            _closeSent = opcode == WebSocketOpcode.Close;
            frame = ArrayPool<byte>.Shared.Rent(WebSocketFrame.MaxClientHeaderLength + payload.Length);
            var length = WebSocketFrame.WriteClientFrame(frame, opcode, payload.Span, FrameMasks.Next());
            await _stream.WriteAsync(frame.AsMemory(0, length)).ConfigureAwait(false);
            Volatile.Write(ref _lastSend, _time.GetTimestamp());
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            Abort();
            throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The upstream connection closed under the send.", ex);
        }
        finally
        {
            if (frame is not null) ArrayPool<byte>.Shared.Return(frame);
            _sendLock.Release();
        }
    }

    /// <summary>
    /// An unsolicited pong (RFC 6455 5.5.3) when nothing was sent for <paramref name="silence"/> or longer: it keeps an idle
    /// connection's middleboxes and the provider from timing it out. Thread-safe; a send in progress is left alone.
    /// </summary>
    public void KeepAliveIfIdle(TimeSpan silence)
    {
        if (State != WebSocketState.Open || _sendLock.CurrentCount == 0) return;
        if (_time.GetElapsedTime(Volatile.Read(ref _lastSend)) < silence) return;
        _ = SendKeepAliveAsync();
    }

    private async Task SendKeepAliveAsync()
    {
        try { await SendFrameAsync(WebSocketOpcode.Pong, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false); }
        catch (WebSocketException) { } // the connection is aborted; its reader reports the loss
    }

    /// <summary>A protocol error: our close frame with its status, then the connection is cut.</summary>
    private async ValueTask<WebSocketException> FailAsync(WebSocketCloseStatus status, string reason)
    {
        try { await SendCloseAsync(status, null).ConfigureAwait(false); }
        catch (WebSocketException) { }
        Abort();
        return new WebSocketException(WebSocketError.Faulted, "The upstream broke the websocket protocol: " + reason + ".");
    }

    /// <summary>Cuts the connection (a pending read or send fails); a connection already closed stays <see cref="WebSocketState.Closed"/>.</summary>
    public void Abort() => Finish(WebSocketState.Aborted);

    public void Dispose() => Abort();

    private void Finish(WebSocketState state)
    {
        SetFinalState(state);
        _stream.Dispose();
    }

    private void SetFinalState(WebSocketState state)
    {
        int current;
        do
        {
            current = Volatile.Read(ref _state);
            if (current is (int)WebSocketState.Closed or (int)WebSocketState.Aborted) return;
        } while (Interlocked.CompareExchange(ref _state, (int)state, current) != current);
    }
}
