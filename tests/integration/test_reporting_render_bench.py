"""The benchmark's render measurement works on the shaped data: a section heat map of 35
students × 60 outcomes and a student page with 60 outcomes and 600 attempts render (200) through
the real app and access checks. Speed itself is measured by ``make bench``, not asserted here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from arc_reporting.bench import render_times

PAGES = {
    "heat map 35×60 (page)",
    "heat map 35×60 (API)",
    "student 60 outcomes, 600 attempts (page)",
    "one outcome chart (SVG)",
}


def test_the_benchmark_renders_every_heavy_page_and_reports_p50_and_p99(tmp_path: Path) -> None:
    times = render_times(tmp_path, runs=3, exports=False)
    assert set(times) == PAGES
    for page, found in times.items():
        assert 0 < found["p50"] <= found["p99"], (page, found)


def test_the_benchmark_renders_from_a_database_set_up_as_the_service_sets_it_up(
    tmp_path: Path,
) -> None:
    """Pages are timed against the read model's own engine (SQLite in WAL mode, no sync per
    commit), not a default one whose every access-log commit waits for the disk twice."""
    render_times(tmp_path, runs=1, exports=False)
    database = sqlite3.connect(tmp_path / "reporting" / "views.sqlite")
    try:
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        database.close()
