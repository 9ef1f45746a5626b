using CodexLb.Protocol.Buffers;

namespace CodexLb.Tests.Unit;

/// <summary>A body or frame gathered in pooled memory comes out as exactly its bytes, however it grew.</summary>
public sealed class PooledBytesTests
{
    [Fact]
    public void Writes_and_reads_into_free_memory_past_the_first_buffer_come_out_whole_and_in_order()
    {
        var expected = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();
        using var bytes = new PooledBytes(16);
        var at = 0;
        while (at < expected.Length)
        {
            if (at % 2 == 0)
            {
                var piece = expected.AsSpan(at, Math.Min(1_000, expected.Length - at));
                bytes.Write(piece);
                at += piece.Length;
            }
            else
            {
                var free = bytes.FreeMemory().Span; // a socket read: as much as fits, at least one byte
                var count = Math.Min(free.Length, Math.Min(777, expected.Length - at));
                expected.AsSpan(at, count).CopyTo(free);
                bytes.Advance(count);
                at += count;
            }
        }
        Assert.Equal(expected.Length, bytes.Length);
        Assert.Equal(expected, bytes.ToArray());
    }

    [Fact]
    public void Cleared_bytes_are_forgotten_and_the_next_ones_start_at_zero()
    {
        using var bytes = new PooledBytes(4);
        bytes.Write([1, 2, 3, 4, 5, 6]);
        bytes.Clear();
        bytes.Write([7, 8]);
        Assert.Equal([7, 8], bytes.ToArray());
    }
}
