using System.Buffers;

namespace CodexLb.Protocol.Buffers;

/// <summary>
/// Bytes gathered in memory rented from the shared pool, grown by doubling and returned on dispose: a request body or a
/// websocket frame is read without a buffer that outlives it, and parsed in place (<see cref="Written"/>) or handed on as
/// one array of exactly its bytes.
/// </summary>
public sealed class PooledBytes(int initialCapacity) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);

    public int Length { get; private set; }

    /// <summary>Free room after <see cref="Length"/> (at least one byte) to read into; then <see cref="Advance"/> by what was read.</summary>
    public Memory<byte> FreeMemory()
    {
        EnsureRoom(1);
        return _buffer.AsMemory(Length);
    }

    public void Advance(int count) => Length += count;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        EnsureRoom(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    /// <summary>Forgets the bytes, keeping the memory (a frame past the size limit is read on and dropped).</summary>
    public void Clear() => Length = 0;

    /// <summary>The bytes gathered, valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, Length);

    public byte[] ToArray() => _buffer.AsSpan(0, Length).ToArray();

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        Length = 0;
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    private void EnsureRoom(int count)
    {
        if (_buffer.Length - Length >= count) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + count));
        _buffer.AsSpan(0, Length).CopyTo(bigger);
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
