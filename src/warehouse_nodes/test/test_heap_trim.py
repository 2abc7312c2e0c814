"""Node processes give freed heap memory back to the system at most once per period."""

import sys

import pytest

from warehouse_nodes.runtime import HeapTrim


def test_trims_at_most_once_per_period_of_the_clock():
    now = [0.0]
    calls = []
    heap = HeapTrim(60.0, trim=lambda pad: calls.append(pad) or 1, clock=lambda: now[0])
    for t in (0.0, 10.0, 59.9):
        now[0] = t
        heap.maybe()
    assert calls == []
    now[0] = 60.0
    heap.maybe()
    heap.maybe()
    assert calls == [0] and heap.calls == 1
    now[0] = 119.0
    heap.maybe()
    now[0] = 120.5
    heap.maybe()
    assert heap.calls == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_the_real_trim_runs_and_returns_heap_pages():
    import psutil

    heap = HeapTrim(0.0)
    assert heap.trim is not None
    junk = [bytearray(2000) for _ in range(40_000)]  # 80 MB of blocks from malloc (over pymalloc's 512 B)
    keep = junk[::100]  # survivors all over the heap: free() alone can give little back
    del junk
    before = psutil.Process().memory_info().rss
    heap.maybe()
    after = psutil.Process().memory_info().rss
    assert heap.calls == 1 and keep
    assert after < before - 20 * 2**20, (before >> 20, after >> 20)
