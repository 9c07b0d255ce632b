"""The collector settings every service applies once wired (arc_platform.heap)."""

from __future__ import annotations

import gc
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
