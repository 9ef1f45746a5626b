using System.IO.Pipelines;

namespace CodexLb.Gateway.Streaming;

/// <summary>
/// The events of one pulled batch framed back to back in one block of the response pipe and committed once, before the
/// flush. Kestrel takes its output lock on every <c>GetSpan</c> and every <c>Advance</c>, and each commit of a chunked body
/// is a chunk of its own: written one by one, a short answer's ~11 events were 22 lock round trips and 11 chunks.
/// </summary>
/// <remarks>A mutable struct: keep it in one local (an async method's local is a field of its state machine) and call
/// <see cref="Commit"/> before anything else writes to the pipe or flushes it.</remarks>
public struct SseBatch(PipeWriter writer)
{
    private Memory<byte> _block;
    private int _used;

    public void Write(string type, ReadOnlySpan<byte> data)
    {
        var length = SseWriter.EventLength(type, data);
        if (_block.Length - _used < length)
        {
            Commit();
            _block = writer.GetMemory(length);
        }
        _used += SseWriter.Frame(_block.Span[_used..], type, data);
    }

    /// <summary>Hands the framed events to the pipe (they go out with its next flush).</summary>
    public void Commit()
    {
        if (_used > 0) writer.Advance(_used);
        _block = default;
        _used = 0;
    }
}
