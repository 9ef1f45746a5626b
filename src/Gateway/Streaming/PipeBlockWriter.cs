using System.Buffers;
using System.IO.Pipelines;

namespace CodexLb.Gateway.Streaming;

/// <summary>
/// An SSE answer's writes, framed into one block of the response pipe and committed once, when it is flushed or ended.
/// Kestrel takes its output lock on every <c>GetSpan</c> and every <c>Advance</c> of its pipe, and makes each commit of a
/// chunked body a chunk of its own: written straight to it, a short answer's ~11 events were 22 lock round trips and 11
/// chunks, and every Chat Completions chunk three commits (its prefix, the JSON writer's flush, the blank line).
/// </summary>
/// <remarks>Everything written to the answer goes through it; <see cref="FlushAsync"/> commits first.</remarks>
public sealed class PipeBlockWriter(PipeWriter pipe) : IBufferWriter<byte>
{
    private Memory<byte> _block;
    private int _used;

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_block.Length - _used < Math.Max(sizeHint, 1))
        {
            Commit();
            _block = pipe.GetMemory(sizeHint); // the rest of the pipe's current segment when it holds sizeHint
        }
        return _block[_used..];
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _block.Length - _used);
        _used += count;
    }

    /// <summary>Hands what was written to the pipe (it goes out with the pipe's next flush).</summary>
    public void Commit()
    {
        if (_used > 0) pipe.Advance(_used);
        _block = default;
        _used = 0;
    }

    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken)
    {
        Commit();
        return pipe.FlushAsync(cancellationToken);
    }
}
