using System.Buffers;
using System.Buffers.Binary;

namespace CodexLb.Protocol.Streaming;

/// <summary>
/// A client websocket's upgraded connection that can hold writes: while held, each frame the websocket writes is kept in
/// a pooled buffer, and <see cref="ReleaseAsync"/> sends them all in one write (one syscall for the events of one pulled
/// batch, instead of Kestrel's write-and-flush per frame). Not held, writes go straight through. Writes are serialized
/// here because the websocket's own keepalive pings can be sent while the relay releases a batch.
/// </summary>
public sealed class BatchingStream(Stream inner) : Stream
{
    private readonly SemaphoreSlim _writing = new(1, 1);
    private byte[]? _pending;
    private int _length;
    private bool _held;

    /// <summary>
    /// Keeps the following writes until <see cref="ReleaseAsync"/>. True when no write was in flight either (a keepalive
    /// ping that began before the hold may still wait on the connection): then every write until the release only appends
    /// to memory, and the caller may send without a cancellation token (the release carries it).
    /// </summary>
    public bool Hold()
    {
        _held = true;
        Interlocked.MemoryBarrier(); // a write that starts after the check below sees the hold, and appends
        return _writing.CurrentCount > 0;
    }

    /// <summary>Sends what was held, in one write, and lets the following writes through.</summary>
    public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _held = false;
            await WritePendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_held) { Append(buffer.Span); return; }
            await WritePendingAsync(cancellationToken).ConfigureAwait(false);
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>
    /// Appends <paramref name="payload"/> to what is held as one whole text frame as a server writes it (RFC 6455 5.2:
    /// unmasked, FIN set), without the websocket's send path: one copy, no awaited lock, no buffer of its own. False when
    /// nothing is held or a write is in flight (a keepalive ping): the caller sends it through its websocket, which frames
    /// it the same way. The websocket writes each of its frames in one write, so frames never interleave here.
    /// </summary>
    public bool TryAppendTextFrame(ReadOnlySpan<byte> payload)
    {
        if (!_held || !_writing.Wait(0)) return false;
        try
        {
            if (!_held) return false;
            Span<byte> header = stackalloc byte[10];
            header[0] = 0x81; // FIN, text
            int headerLength;
            if (payload.Length < 126) { header[1] = (byte)payload.Length; headerLength = 2; }
            else if (payload.Length <= ushort.MaxValue) { header[1] = 126; BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)payload.Length); headerLength = 4; }
            else { header[1] = 127; BinaryPrimitives.WriteUInt64BigEndian(header[2..], (ulong)payload.Length); headerLength = 10; }
            Append(header[..headerLength], payload);
            return true;
        }
        finally
        {
            _writing.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Append(ReadOnlySpan<byte> data, ReadOnlySpan<byte> more = default)
    {
        var length = data.Length + more.Length;
        if (_pending is null || _pending.Length - _length < length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + length, 16 * 1024));
            _pending?.AsSpan(0, _length).CopyTo(bigger);
            ReturnPending();
            _pending = bigger;
        }
        data.CopyTo(_pending.AsSpan(_length));
        more.CopyTo(_pending.AsSpan(_length + data.Length));
        _length += length;
    }

    private async ValueTask WritePendingAsync(CancellationToken cancellationToken)
    {
        if (_length == 0) return;
        try
        {
            await inner.WriteAsync(_pending.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            // What the websocket itself reports for a write to a connection that is gone.
            throw new System.Net.WebSockets.WebSocketException(System.Net.WebSockets.WebSocketError.ConnectionClosedPrematurely, ex);
        }
        finally
        {
            _length = 0;
            ReturnPending(); // a connection holds no buffer between batches
        }
    }

    private void ReturnPending()
    {
        if (_pending is { } pending) ArrayPool<byte>.Shared.Return(pending);
        _pending = null;
    }

    // Nothing is pending unless held (a write through sends what was pending first), and a held batch waits for its release:
    // the websocket flushes after every frame, and a held frame's flush would only take the connection's locks.
    public override Task FlushAsync(CancellationToken cancellationToken) => _held ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush() => FlushAsync().GetAwaiter().GetResult();

    public override bool CanRead => inner.CanRead;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            DropPending();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        DropPending();
        GC.SuppressFinalize(this);
    }

    /// <summary>Returns a held batch's buffer unsent; a write still in flight returns it itself.</summary>
    private void DropPending()
    {
        if (!_writing.Wait(0)) return;
        ReturnPending();
        _length = 0;
    }
}
