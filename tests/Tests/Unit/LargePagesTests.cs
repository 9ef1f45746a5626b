using System.Runtime.InteropServices;
using CodexLb.Grains.Tree.Native;

namespace CodexLb.Tests.Unit;

/// <summary>The native tables' arrays: zeroed, and (on Linux 5.14 and later) already in memory when handed out.</summary>
public sealed unsafe partial class LargePagesTests
{
    [Theory]
    [InlineData(64 * 1024)] // its own mapping, 4 KB pages
    [InlineData(4 * 1024 * 1024)] // its own mapping, advised to use huge pages
    public void An_array_from_64_KB_up_is_zeroed_and_resident_before_its_first_touch(int bytes)
    {
        Assert.True(OperatingSystem.IsLinux() && Environment.OSVersion.Version >= new Version(5, 14),
            $"the population needs Linux 5.14 or later; this is {Environment.OSVersion}");
        var memory = (byte*)LargePages.AllocateZeroed((nuint)bytes);
        try
        {
            // Resident before any read or write here: a table's growth reads each slot first, and a read of a page not yet
            // in memory would map the zero page, to be replaced (and flushed from every core) at the write.
            var pages = new byte[(bytes + Environment.SystemPageSize - 1) / Environment.SystemPageSize];
            Assert.Equal(0, Mincore(memory, (nuint)bytes, pages));
            Assert.Equal(0, pages.Count(page => (page & 1) == 0)); // pages not yet in memory

            Assert.True(new ReadOnlySpan<byte>(memory, bytes).IndexOfAnyExcept((byte)0) < 0, "not zeroed");
            new Span<byte>(memory, bytes).Fill(0xA5); // writable throughout
        }
        finally
        {
            LargePages.Free(memory, (nuint)bytes);
        }
    }

    [Fact]
    public void A_small_array_comes_zeroed_from_the_C_heap_and_goes_back_to_it()
    {
        const int bytes = 4 * 1024;
        var memory = (byte*)LargePages.AllocateZeroed(bytes);
        Assert.True(new ReadOnlySpan<byte>(memory, bytes).IndexOfAnyExcept((byte)0) < 0, "not zeroed");
        new Span<byte>(memory, bytes).Fill(0xA5);
        LargePages.Free(memory, bytes); // NativeMemory.Free: an munmap of a C heap block would fail and throw here
    }

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static partial int Mincore(void* address, nuint length, [Out] byte[] pages);
}
