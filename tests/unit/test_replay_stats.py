"""A rebuild's own figures: the replay's time stops when every position is reached, and memory
is read afterwards (once the consumers have let their messages go)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from arc_platform.replay_stats import ReplayStats


def test_the_clock_stops_at_finish_and_memory_is_read_at_write(tmp_path: Path) -> None:
    stats = ReplayStats.start()
    time.sleep(0.02)
    stats.finish()
    time.sleep(0.2)  # the consumers stopping
    held = bytearray(32 * 2**20)  # touched: resident when written
    held[::4096] = b"x" * len(held[::4096])
    stats.write(str(tmp_path / "stats.json"), messages=7, stored_events=11)
    found = json.loads((tmp_path / "stats.json").read_text())
    assert 0.02 <= found["replay_seconds"] < 0.2
    assert found["messages"] == 7 and found["stored_events"] == 11
    assert found["rss_after_mb"] - found["rss_before_mb"] >= 30
    assert found["rss_peak_mb"] >= found["rss_after_mb"] - 1
    del held


def test_without_finish_the_replay_lasts_until_write(tmp_path: Path) -> None:
    stats = ReplayStats.start()
    time.sleep(0.05)
    stats.write(str(tmp_path / "stats.json"), messages=1)
    assert json.loads((tmp_path / "stats.json").read_text())["replay_seconds"] >= 0.05


def test_nothing_is_written_without_a_path(tmp_path: Path) -> None:
    ReplayStats.start().write(None, messages=1)
    assert list(tmp_path.iterdir()) == []
