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
"""

from __future__ import annotations

import gc
import logging
import os
import time
from typing import Any

from opentelemetry import metrics

log = logging.getLogger(__name__)

SERVICE_THRESHOLDS = (50_000, 20, 20)
PAGE_THRESHOLDS = (10_000, 20, 20)
SLOW_PAUSE_SECONDS = 0.05
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


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
