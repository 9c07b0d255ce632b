"""The collector settings every service applies once wired (arc_platform.heap)."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from arc_platform import heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """The collector as the test found it (another test may have settled the heap already)."""
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    monitor = heap._monitor
    gc.callbacks[:] = [c for c in callbacks if not isinstance(c, heap.PauseMonitor)]
    heap._monitor = None
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    heap._monitor = monitor


def test_settling_freezes_what_exists_and_sets_the_thresholds(restored_collector: None) -> None:
    built_at_start = [[n] for n in range(1000)]
    frozen = heap.settle_after_start((50_000, 20, 20))
    assert frozen >= len(built_at_start)
    assert gc.get_threshold() == (50_000, 20, 20)
    # Still collected afterwards: a cycle made later is freed by a collection.
    cycle = _Node()
    cycle.other = cycle
    watched = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert watched() is None


class _Node:
    other: object = None


def test_every_collection_is_timed_once(restored_collector: None) -> None:
    heap.settle_after_start()
    heap.settle_after_start()
    monitors = [c for c in gc.callbacks if isinstance(c, heap.PauseMonitor)]
    assert len(monitors) == 1


def test_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARC_GC_THRESHOLDS", "1000,5,5")
    assert heap.thresholds_from_env() == (1000, 5, 5)
    monkeypatch.setenv("ARC_GC_THRESHOLDS", "1000,5")
    with pytest.raises(ValueError, match="three positive integers"):
        heap.thresholds_from_env()
    monkeypatch.delenv("ARC_GC_THRESHOLDS")
    assert heap.thresholds_from_env() == heap.SERVICE_THRESHOLDS


def test_a_process_serving_pages_keeps_a_smaller_young_generation(
    restored_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARC_GC_THRESHOLDS", raising=False)
    heap.settle_after_start(default=heap.PAGE_THRESHOLDS)
    assert gc.get_threshold() == heap.PAGE_THRESHOLDS
    assert heap.PAGE_THRESHOLDS[0] < heap.SERVICE_THRESHOLDS[0]
    monkeypatch.setenv("ARC_GC_THRESHOLDS", "2000,10,10")  # the environment still decides
    heap.settle_after_start(default=heap.PAGE_THRESHOLDS)
    assert gc.get_threshold() == (2000, 10, 10)


FRAGMENTED_HEAP = """
import os
from pathlib import Path
from arc_platform import heap

def resident_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

blocks = [bytes(8000) for _ in range(12_000)]  # about 96 MB, from glibc's heap (not pymalloc's)
kept = blocks[7::8]  # one block in eight stays, so the heap cannot shrink from its top
del blocks
before = resident_mb()
released = heap.release_free_heap()
print(before, resident_mb(), released, len(kept))
"""


@pytest.mark.skipif(heap._trim is None, reason="the C library is not glibc")
def test_the_free_heap_is_handed_back_even_between_blocks_still_in_use() -> None:
    """Seven blocks in eight freed: Python keeps them resident in glibc's heap, the release
    hands their pages back (in a process of its own, whose heap this test controls)."""
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True
    )
    before, after, released, kept = done.stdout.split()
    assert released == "True" and kept == "1500"
    assert float(before) - float(after) > 50, (before, after)  # of about 84 MB freed


def test_a_release_is_due_once_caught_up_after_enough_messages() -> None:
    due = heap.ReleaseAfterBacklog(after=100)
    assert not due.applied(60, caught_up=True)  # not enough yet
    assert not due.applied(60, caught_up=False)  # enough, still behind
    assert due.applied(1, caught_up=True)
    assert due.since_release == 0 and due.releases == 1
    assert not due.applied(99, caught_up=True)
    assert due.applied(1, caught_up=True)
    never = heap.ReleaseAfterBacklog(after=0)
    assert not never.applied(10**6, caught_up=True)


def test_release_after_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARC_HEAP_RELEASE_AFTER", raising=False)
    assert heap.ReleaseAfterBacklog().after == heap.RELEASE_AFTER
    monkeypatch.setenv("ARC_HEAP_RELEASE_AFTER", "0")
    assert heap.ReleaseAfterBacklog().after == 0
    monkeypatch.setenv("ARC_HEAP_RELEASE_AFTER", "-1")
    with pytest.raises(ValueError, match="ARC_HEAP_RELEASE_AFTER"):
        heap.ReleaseAfterBacklog()


def test_a_release_renews_what_was_registered_while_it_lives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "_renewals", weakref.WeakKeyDictionary())
    renewed: list[str] = []

    class Pool:
        def __init__(self, name: str) -> None:
            self.name = name

    def renew(pool: Pool) -> None:
        if pool.name == "closed":
            raise RuntimeError("the pool is closed")
        renewed.append(pool.name)

    kept, gone, closed = Pool("kept"), Pool("gone"), Pool("closed")
    for pool in (kept, gone, closed):
        heap.renew_on_release(pool, renew)
    del gone
    gc.collect()
    assert heap.release_free_heap() == (heap._trim is not None)  # a failing renewal is logged
    assert renewed == ["kept"]
    assert closed.name == "closed"
