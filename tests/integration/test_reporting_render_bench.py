"""The two heaviest pages render fast on the server: a section heat map of 35 students × 60
outcomes, and a student page with 60 outcomes and 600 attempts (``python -m
arc_reporting.bench`` prints the same figures for the benchmark)."""

from __future__ import annotations

from pathlib import Path

from arc_reporting.bench import render_times

#: Generous on a shared 2-core machine (measured: about 0.1 s and 0.05 s).
BUDGET_SECONDS = 1.0


def test_the_heat_map_and_a_busy_student_page_render_within_a_second(tmp_path: Path) -> None:
    times = render_times(tmp_path, runs=3, exports=False)
    assert times["heat map 35×60 (page)"] < BUDGET_SECONDS, times
    assert times["student 60 outcomes, 600 attempts (page)"] < BUDGET_SECONDS, times
    assert times["one outcome chart (SVG)"] < BUDGET_SECONDS / 4, times
