"""What a rebuild measured about itself, for ``make bench``: replay time without process start,
and memory before and at the peak of the replay (the projection's own cost)."""

from __future__ import annotations

import gc
import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path


def rss_mb() -> float:
    """Resident memory now (Linux: /proc/self/statm counts pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@dataclass
class ReplayStats:
    """Started once the store is open and the targets are known, just before replaying."""

    rss_before_mb: float
    started: float
    #: Set by ``finish``: the replay's time, without stopping the consumers.
    seconds: float | None = None

    @classmethod
    def start(cls) -> ReplayStats:
        return cls(rss_mb(), time.perf_counter())

    def finish(self) -> None:
        """Every position reached: the clock stops here. Memory is read by ``write``, once the
        consumers have stopped and let go of the messages they had fetched."""
        self.seconds = time.perf_counter() - self.started

    def write(self, path: str | None, messages: int, stored_events: int | None = None) -> None:
        """``messages``: applied by all consumers (a stream read by several partitions counts
        once per partition); ``stored_events``: what the rebuild wrote to its event store, when
        it has one (what bounds its speed from below: the store's own append rate)."""
        if not path:
            return
        seconds = self.seconds if self.seconds is not None else time.perf_counter() - self.started
        gc.collect()  # what the projection keeps, once the replay's messages are let go
        found = {
            "messages": messages,
            "replay_seconds": seconds,
            "rss_before_mb": self.rss_before_mb,
            "rss_after_mb": rss_mb(),
            "rss_peak_mb": peak_rss_mb(),
            "stored_events": stored_events,
        }
        Path(path).write_text(json.dumps(found))
