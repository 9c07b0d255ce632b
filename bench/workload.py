"""A generated network shaped like a real one: sections of 35 students, 60 outcomes, 5–10
attempts per student-outcome spread over a school year, some entered late (assessed before
attempts already recorded), some voided."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SECTION_SIZE = 35
OUTCOMES = 60
YEAR_START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)


@dataclass(frozen=True)
class Assessment:
    """One class sitting one assessment of one outcome: a batch of rows."""

    section: int
    outcome: int
    assessed_at: datetime
    scores: tuple[tuple[str, int], ...]  # (student, score)


@dataclass(frozen=True)
class Network:
    students: list[str]
    outcomes: list[str]
    assessments: list[Assessment]
    void_fraction: float

    @property
    def attempts(self) -> int:
        return sum(len(a.scores) for a in self.assessments)

    @property
    def pairs(self) -> int:
        return len(self.students) * len(self.outcomes)


def generate(target_attempts: int, seed: int = 2026, prefix: str = "bench") -> Network:
    """About ``target_attempts`` attempts: 7.5 per student-outcome on average (students named
    ``<prefix>-s…``, so that several networks can share one system)."""
    rng = random.Random(seed)
    pairs = max(OUTCOMES, round(target_attempts / 7.5))
    sections = max(1, round(pairs / OUTCOMES / SECTION_SIZE))
    students = [f"{prefix}-s{n:06d}" for n in range(sections * SECTION_SIZE)]
    outcomes = [f"bench.o{n:02d}" for n in range(OUTCOMES)]
    assessments = []
    for section in range(sections):
        roster = students[section * SECTION_SIZE : (section + 1) * SECTION_SIZE]
        for outcome in range(OUTCOMES):
            sittings = rng.randint(5, 10)
            days = sorted(rng.sample(range(0, 280), sittings))
            level = {s: rng.uniform(1.0, 2.5) for s in roster}
            for index, day in enumerate(days):
                # One sitting in ten is entered late: its date lies before the previous one.
                if index and rng.random() < 0.1:
                    day = max(0, days[index - 1] - rng.randint(1, 10))
                scores = tuple(
                    (s, max(1, min(4, round(level[s] + index * 0.25 + rng.uniform(-0.7, 0.7)))))
                    for s in roster
                )
                assessments.append(
                    Assessment(section, outcome, YEAR_START + timedelta(days=day), scores)
                )
    rng.shuffle(assessments)  # teachers enter results in no particular order
    return Network(students, outcomes, assessments, void_fraction=0.02)
