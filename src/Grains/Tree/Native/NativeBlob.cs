using System.Runtime.InteropServices;

namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// Bytes in native memory: what the collector never sees, moves or counts. A copy of this struct names the same bytes, so
/// exactly one owner frees them, once, and nobody reads them after that (the memory store does both under its lock).
/// </summary>
internal readonly unsafe struct NativeBlob
{
    private readonly nint _bytes;
    private readonly int _length;

    private NativeBlob(nint bytes, int length) => (_bytes, _length) = (bytes, length);

    /// <summary>Uninitialized bytes: the caller writes every one.</summary>
    public static NativeBlob Allocate(int length) => new((nint)NativeMemory.Alloc((nuint)Math.Max(length, 1)), length);

    public Span<byte> Bytes => new((void*)_bytes, _length);

    public void Free() => NativeMemory.Free((void*)_bytes);
}
