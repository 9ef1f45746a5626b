#!/usr/bin/env python3
"""What touching fresh memory costs on this machine, per 4 KB page.

A managed heap that hands out memory the process has not touched yet (a gen0 region the GC committed again, a pinned
blob past the heap's end) pays one page fault per page on first write. On bare metal that is well under a microsecond;
in some virtual machines each fault is a trip through the hypervisor. This prints three figures for N MB (default 256):
  faulted    - an anonymous mapping written one byte per page (what a runtime's first touch pays)
  populated  - the same mapping created with MAP_POPULATE (the kernel fills every page in one call)
  resident   - the faulted mapping written again (the loop's own cost)

    python3 bench/scripts/page_fault_cost.py [MB]
"""
import mmap
import sys
import time

PAGE = 4096


def touch(m, size):
    start = time.perf_counter()
    for offset in range(0, size, PAGE):
        m[offset] = 1
    return time.perf_counter() - start


def main():
    size = (int(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
    pages = size // PAGE
    faulted = mmap.mmap(-1, size)
    first = touch(faulted, size)
    again = touch(faulted, size)
    faulted.close()
    start = time.perf_counter()
    populated = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0x8000))
    populate = time.perf_counter() - start
    populated.close()
    print(f"{size >> 20} MB, {pages:,} pages of 4 KB")
    print(f"faulted:   {(first - again) * 1e6 / pages:6.2f} us per page (first write, loop cost removed)")
    print(f"populated: {populate * 1e6 / pages:6.2f} us per page (MAP_POPULATE)")
    print(f"resident:  {again * 1e6 / pages:6.2f} us per page (the loop alone)")


if __name__ == "__main__":
    main()
