using System.Runtime.InteropServices;

namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// Bytes in native memory: what the collector never sees, moves or counts. One pointer (the length is the block's first
/// four bytes), so a table entry naming it stays small. A copy of this struct names the same bytes: exactly one owner
/// frees them, once, and nobody reads them after that (the memory store does both under its lock).
/// </summary>
internal readonly unsafe struct NativeBlob
{
    private readonly nint _block; // the length (int), then the bytes

    private NativeBlob(nint block) => _block = block;

    /// <summary>Uninitialized bytes: the caller writes every one.</summary>
    public static NativeBlob Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var block = (int*)NativeMemory.Alloc((nuint)sizeof(int) + (nuint)length);
        *block = length;
        return new NativeBlob((nint)block);
    }

    public Span<byte> Bytes => new((byte*)_block + sizeof(int), *(int*)_block);

    public void Free() => NativeMemory.Free((void*)_block);
}
