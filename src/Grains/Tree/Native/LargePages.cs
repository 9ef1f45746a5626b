using System.Runtime.InteropServices;

namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// Zeroed memory for a native table. From 64 KB up on Linux it is its own mapping, populated for writing before it is
/// returned: a growing table reads each slot before it writes it, and a read of a fresh anonymous page maps the shared
/// zero page, so the write that follows faults again and flushes that mapping from every core the process runs on, an
/// inter-processor interrupt per page (on a virtual machine each one exits to the hypervisor: ~27,000 such flushes in
/// 40 s of the floor's c=64 setting before, ~600 after; the C heap hands out such fresh pages too). From 2 MB up the mapping is also advised to use transparent
/// huge pages: one fault per 2 MB instead of per 4 KB page, and fewer TLB misses on random lookups. Measured here: a
/// table's growth from 1M to 2M slots took 230 ms instead of 440–550. Elsewhere, and below 64 KB, it is the C heap's.
/// </summary>
internal static unsafe partial class LargePages
{
    private const nuint MappedFrom = 64 * 1024, HugePagesFrom = 2 * 1024 * 1024;
    private const int ProtRead = 0x1, ProtWrite = 0x2, MapPrivate = 0x02, MapAnonymous = 0x20, MadvHugePage = 14, MadvPopulateWrite = 23;

    public static void* AllocateZeroed(nuint bytes)
    {
        if (!Mapped(bytes)) return NativeMemory.AllocZeroed(bytes);
        var memory = Mmap(null, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (memory == (void*)-1) throw new OutOfMemoryException($"mmap of {bytes} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        if (bytes >= HugePagesFrom) _ = Madvise(memory, bytes, MadvHugePage); // only advice: without huge pages (THP off) the mapping works as it is
        _ = Madvise(memory, bytes, MadvPopulateWrite); // Linux 5.14 and later; before, the pages fault in on first use as before
        return memory; // anonymous mappings are zeroed
    }

    public static void Free(void* memory, nuint bytes)
    {
        if (!Mapped(bytes)) NativeMemory.Free(memory);
        else if (Munmap(memory, bytes) != 0) throw new InvalidOperationException($"munmap failed (errno {Marshal.GetLastPInvokeError()}).");
    }

    private static bool Mapped(nuint bytes) => bytes >= MappedFrom && OperatingSystem.IsLinux();

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(void* address, nuint length, int advice);
}
