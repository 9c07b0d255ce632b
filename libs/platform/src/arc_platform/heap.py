"""The cyclic garbage collector in a long-running service.

Measured on the bench's stack (2 cores, a few thousand pairs loaded): with CPython's default
thresholds each service ran 8–20 full collections a minute, scanning 150k–400k objects each,
and a full collection stopped the process for 100–600 ms — the end-to-end latency's tail.
Two settings, applied once the service is wired (before it serves):

- what start-up built (modules, schemas, compiled queries: about 140k objects) is frozen
  (``gc.freeze``): it lives as long as the process, so no collection needs to scan it;
- the young generation is collected every 50,000 allocations instead of 700, so that objects
  of requests and batches in flight are rarely promoted to the old generations only to die
  there, which is what kept triggering full collections (a rebuild, which creates objects
  that live to its end, spent 8 % of its CPU in young collections at the defaults, 1 % at
  10,000). Objects are still collected: only the cadence changes (``ARC_GC_THRESHOLDS``
  overrides it).

A process that serves pages (reporting) uses a smaller young generation, 10,000: a page builds
tens of thousands of objects that live for its request (a 35 × 60 heat map's rows, cells and
HTML), so a young collection at 50,000 found mostly live containers to traverse and stopped a
page for 30–95 ms, the whole of its p99; at 10,000 it stops it for 6–15 ms, a few times as
often and for less time in all.

Full collections slower than 50 ms are logged and every collection's pause is recorded as
``arc.gc.pause`` (histogram, s; generation).

What a process frees goes back to glibc's heap, where it stays resident to be reused; Python
never hands it back. After a replay (a rebuild, or a replica catching up after a takeover) much
of it is free: measured after a mastery rebuild of 14,700 pairs, 31 of the heap's 57 MB. So a
consumer that has caught up after applying ``ARC_HEAP_RELEASE_AFTER`` messages (10,000 unless
set; 0: never) since the last release hands the heap's free pages back (``malloc_trim``), and a
rebuild does so once its replay is done (``release_after_replay``). The pages are returned, not
unmapped: the heap keeps its addresses, and glibc faults a page in again when it reuses it.

A release also renews the PostgreSQL connections the process pools (``renew_on_release``):
libpq keeps each connection's buffers as large as the largest statement or result it carried,
and a replay's batches make them large (after a mastery rebuild of 14,700 pairs, six
connections held 21 MB, 1.6 MB at 2,100 pairs). Idle connections are closed and replaced at
once; one in use, when it is returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics

log = logging.getLogger(__name__)

SERVICE_THRESHOLDS = (50_000, 20, 20)
PAGE_THRESHOLDS = (10_000, 20, 20)
SLOW_PAUSE_SECONDS = 0.05
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
RELEASE_AFTER = 10_000


def thresholds_from_env(default: tuple[int, int, int] = SERVICE_THRESHOLDS) -> tuple[int, ...]:
    raw = os.environ.get("ARC_GC_THRESHOLDS", "")
    if not raw:
        return default
    found = tuple(int(part) for part in raw.split(","))
    if len(found) != 3 or min(found) < 1:
        raise ValueError(f"ARC_GC_THRESHOLDS={raw!r}: expected three positive integers")
    return found


class PauseMonitor:
    """Times every collection (a ``gc.callbacks`` hook; collections run one at a time)."""

    def __init__(self) -> None:
        self._started = 0.0
        self.pause = metrics.get_meter("arc_platform").create_histogram(
            "arc.gc.pause",
            unit="s",
            description="How long a garbage collection stopped the process, by generation.",
            explicit_bucket_boundaries_advisory=PAUSE_BUCKETS,
        )

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = int(info["generation"])
        self.pause.record(seconds, {"generation": generation})
        if generation == 2 and seconds > SLOW_PAUSE_SECONDS:
            log.warning(
                "full garbage collection took %.0f ms (%s objects collected)",
                seconds * 1000,
                info["collected"],
            )


_monitor: PauseMonitor | None = None


def settle_after_start(
    thresholds: tuple[int, ...] | None = None,
    default: tuple[int, int, int] = SERVICE_THRESHOLDS,
) -> int:
    """Freeze what start-up built and set the thresholds (``thresholds``, else
    ``ARC_GC_THRESHOLDS``, else ``default``); returns how many objects were frozen. Idempotent
    apart from freezing what was built since a previous call."""
    global _monitor
    gc.collect()
    gc.freeze()
    gc.set_threshold(*(thresholds or thresholds_from_env(default)))
    if _monitor is None:
        _monitor = PauseMonitor()
        gc.callbacks.append(_monitor)
    return gc.get_freeze_count()


def _malloc_trim() -> Any | None:
    """glibc's ``malloc_trim``, or None where the C library is another (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


_trim = _malloc_trim()


#: Connection pools (or engines) to renew on each release, and how; held weakly.
_renewals: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def renew_on_release(owner: Any, renew: Callable[[Any], None]) -> None:
    """Call ``renew(owner)`` on each release while ``owner`` lives."""
    _renewals[owner] = renew


def release_free_heap() -> bool:
    """Renew the pooled connections, then hand the free pages of glibc's heap back to the
    system. False where there is no glibc. Takes milliseconds for a heap of tens of MB, during
    which other threads wait to allocate from the C heap: call it between batches, not per
    message."""
    for owner, renew in list(_renewals.items()):
        try:
            renew(owner)
        except Exception:  # a pool closed meanwhile: nothing to renew
            log.warning("could not renew the connections of %r", owner, exc_info=True)
    if _trim is None:
        return False
    _trim(0)
    return True


def release_after_replay() -> bool:
    """Once a rebuild's consumers have stopped: what its messages and batches left, collected
    and handed back before the rebuild goes on (a comparison) or its figures are read."""
    gc.collect()
    return release_free_heap()


def release_after_from_env() -> int:
    raw = os.environ.get("ARC_HEAP_RELEASE_AFTER", "")
    if not raw:
        return RELEASE_AFTER
    found = int(raw)
    if found < 0:
        raise ValueError(f"ARC_HEAP_RELEASE_AFTER={raw!r}: expected 0 (never) or more messages")
    return found


class ReleaseAfterBacklog:
    """Counts the messages a process's consumers apply; says when to release the free heap:
    once they have all caught up and at least ``after`` were applied since the last release
    (at a steady trickle, every ``after`` messages). Thread-safe."""

    def __init__(self, after: int | None = None) -> None:
        self.after = release_after_from_env() if after is None else after
        self.since_release = 0
        self.releases = 0
        self._lock = threading.Lock()

    def applied(self, count: int, caught_up: bool) -> bool:
        """True when the caller should release now (it is counted as done)."""
        with self._lock:
            self.since_release += count
            if not (caught_up and self.after and self.since_release >= self.after):
                return False
            self.since_release = 0
            self.releases += 1
            return True


#: The process's consumers share one count (see ``arc_platform.consumer``).
after_backlog = ReleaseAfterBacklog()
