"""Evidence domain: every assessment attempt is an immutable event in its student's history.
Pure Python, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from arc_contracts import ProficiencyScaleV1

STUDENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/students")
#: Clocks differ between a teacher's device and the server; beyond this, "assessed in the
#: future" is an error.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class KnownOutcome:
    """Evidence's local view of a catalog outcome (built from catalog events)."""

    outcome_id: str
    revision: int
    scale: ProficiencyScaleV1


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


def scale_value(scale: ProficiencyScaleV1, score: Decimal) -> Decimal | None:
    """The scale's own value for ``score`` (so 3.0 is stored as 3), or None if off the scale."""
    for level in scale.levels:
        if level.value == score:
            return level.value
    return None


def check_attempt(
    *,
    student_id: str,
    outcome_id: str,
    outcome: KnownOutcome | None,
    score: Decimal,
    assessed_at: datetime | None,
    recorded_by: str,
    now: datetime,
) -> list[Violation]:
    """Every reason this attempt cannot be recorded (empty when it can)."""
    found: list[Violation] = []
    if not student_id.strip():
        found.append(Violation("student_id", "must not be empty"))
    if not recorded_by.strip():
        found.append(Violation("recorded_by", "must not be empty"))
    if outcome is None:
        found.append(Violation("outcome_id", f"unknown outcome {outcome_id!r}"))
    elif scale_value(outcome.scale, score) is None:
        allowed = ", ".join(str(level.value) for level in outcome.scale.levels)
        found.append(
            Violation("score", f"{score} is not on the scale of {outcome_id!r} ({allowed})")
        )
    if assessed_at is None:
        found.append(Violation("assessed_at", "is required"))
    elif assessed_at > now + CLOCK_SKEW:
        found.append(Violation("assessed_at", f"{assessed_at.isoformat()} is in the future"))
    return found


def student_aggregate_id(student_id: str) -> UUID:
    return uuid5(STUDENT_NAMESPACE, student_id)


class StudentEvidence(Aggregate):
    """All evidence of one student, totally ordered: concurrent writers to the same student
    meet optimistic concurrency control instead of losing updates."""

    class Opened(Aggregate.Created):
        student_id: str

    class AttemptRecorded(Aggregate.Event):
        student_id: str
        attempt_id: str
        outcome_id: str
        outcome_revision: int
        scale: dict[str, Any]
        score: Decimal
        assessed_at: datetime
        recorded_at: datetime
        recorded_by: str
        traceparent: str

    @staticmethod
    def create_id(student_id: str) -> UUID:
        return student_aggregate_id(student_id)

    @event(Opened)
    def __init__(self, student_id: str) -> None:
        self.student_id = student_id
        self.attempt_ids: list[str] = []

    @event(AttemptRecorded)
    def record_attempt(
        self,
        student_id: str,
        attempt_id: str,
        outcome_id: str,
        outcome_revision: int,
        scale: dict[str, Any],
        score: Decimal,
        assessed_at: datetime,
        recorded_at: datetime,
        recorded_by: str,
        traceparent: str,
    ) -> None:
        self.attempt_ids.append(attempt_id)
