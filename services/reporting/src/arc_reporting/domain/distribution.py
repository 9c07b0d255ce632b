"""Mastery distributions for leaders: how many student-outcome pairs stand at each status, now
and at a series of past moments, and the outcomes where many students are stuck. Pure Python.

A pair is one enrolled student on one outcome of their course; pairs without evidence count
as ``no_evidence`` (coverage matters as much as levels). A student is *stuck* on an outcome
when the early-warning rule finds it ``stalled``; an outcome is stuck when at least
``min_share`` of the students with evidence on it are stuck, and at least ``min_students``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arc_reporting.domain.asof import BadField, utc
from arc_reporting.domain.records import STATUSES, Change

INTERVALS = {"week": timedelta(weeks=1), "month": timedelta(days=30), "day": timedelta(days=1)}
MAX_POINTS = 104


@dataclass(frozen=True)
class Distribution:
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, status: str) -> float:
        return self.counts.get(status, 0) / self.total if self.total else 0.0


def distribution(statuses: Iterable[str]) -> Distribution:
    counted = Counter(statuses)
    return Distribution({status: counted.get(status, 0) for status in STATUSES})


def moments(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """``end`` and the moments one interval apart before it, back to ``start``."""
    if interval not in INTERVALS:
        raise BadField("interval", f"{interval!r}: use {', '.join(INTERVALS)}")
    if start >= end:
        raise BadField("from", "must be before the end of the period")
    step = INTERVALS[interval]
    found = [end]
    while found[-1] - step >= start and len(found) < MAX_POINTS:
        found.append(found[-1] - step)
    return list(reversed(found))


def statuses_over_time(
    pairs: Sequence[tuple[str, str]], changes: Iterable[Change], at: Sequence[datetime]
) -> list[Distribution]:
    """The distribution of ``pairs`` at each moment of ``at`` (ascending), walking each pair's
    changes once."""
    by_pair: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        by_pair.setdefault((change.student_id, change.outcome_id), []).append(change)
    tallies = [Counter[str]() for _ in at]
    for pair in pairs:
        history = sorted(by_pair.get(pair, []), key=lambda c: (utc(c.changed_at), c.sequence))
        status, index = "no_evidence", 0
        for slot, moment in enumerate(at):
            while index < len(history) and utc(history[index].changed_at) <= moment:
                status = history[index].status
                index += 1
            tallies[slot][status] += 1
    return [distribution(t.elements()) for t in tallies]


@dataclass(frozen=True)
class StuckOutcome:
    outcome_id: str
    stuck: int
    with_evidence: int

    @property
    def share(self) -> float:
        return self.stuck / self.with_evidence if self.with_evidence else 0.0


def stuck_outcomes(
    counts: dict[str, tuple[int, int]], min_share: float, min_students: int
) -> list[StuckOutcome]:
    """``counts``: outcome id → (students stuck, students with evidence). Worst first."""
    found = [
        StuckOutcome(outcome_id, stuck, with_evidence)
        for outcome_id, (stuck, with_evidence) in counts.items()
        if stuck >= min_students and with_evidence and stuck / with_evidence >= min_share
    ]
    return sorted(found, key=lambda s: (-s.share, -s.stuck, s.outcome_id))
