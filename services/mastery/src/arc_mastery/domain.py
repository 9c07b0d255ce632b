"""Mastery domain: a student's level on one outcome, recalculated from the counted evidence in
time order. Pure Python, no I/O; the calculation itself is a named method (see ``methods``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

MASTERY_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/mastery")


@dataclass(frozen=True)
class CountedEvidence:
    attempt_id: str
    score: Decimal
    assessed_at: datetime
    applied_order: int


def in_time_order(evidence: list[CountedEvidence]) -> list[CountedEvidence]:
    """Oldest first by when the student showed it; ties keep the order evidence arrived."""
    return sorted(evidence, key=lambda item: (item.assessed_at, item.applied_order))


def most_recent(evidence: list[CountedEvidence]) -> Decimal | None:
    ordered = in_time_order(evidence)
    return ordered[-1].score if ordered else None


def mastery_id(student_id: str, outcome_id: str) -> UUID:
    return uuid5(MASTERY_NAMESPACE, f"{student_id}\x1f{outcome_id}")


class StudentOutcomeMastery(Aggregate):
    """One student's mastery of one outcome: the evidence applied and the level it gives."""

    METHOD = "most_recent"

    class Started(Aggregate.Created):
        student_id: str
        outcome_id: str

    class EvidenceApplied(Aggregate.Event):
        attempt_id: str
        score: Decimal
        assessed_at: datetime

    class LevelChanged(Aggregate.Event):
        student_id: str
        outcome_id: str
        level: Decimal | None
        previous_level: Decimal | None
        mastered: bool
        method: str
        evidence_count: int
        triggered_by_attempt_id: str
        traceparent: str

    @staticmethod
    def create_id(student_id: str, outcome_id: str) -> UUID:
        return mastery_id(student_id, outcome_id)

    @event(Started)
    def __init__(self, student_id: str, outcome_id: str) -> None:
        self.student_id = student_id
        self.outcome_id = outcome_id
        self.evidence: list[CountedEvidence] = []
        self.level: Decimal | None = None
        self.mastered = False

    def consider(
        self,
        *,
        attempt_id: str,
        score: Decimal,
        assessed_at: datetime,
        mastery_threshold: Decimal,
        traceparent: str,
    ) -> bool:
        """Apply one attempt; record a level change when the level moves. True if it moved."""
        self.apply_evidence(attempt_id=attempt_id, score=score, assessed_at=assessed_at)
        level = most_recent(self.evidence)
        mastered = level is not None and level >= mastery_threshold
        if level == self.level and mastered == self.mastered:
            return False
        self.change_level(
            student_id=self.student_id,
            outcome_id=self.outcome_id,
            level=level,
            previous_level=self.level,
            mastered=mastered,
            method=self.METHOD,
            evidence_count=len(self.evidence),
            triggered_by_attempt_id=attempt_id,
            traceparent=traceparent,
        )
        return True

    @event(EvidenceApplied)
    def apply_evidence(self, attempt_id: str, score: Decimal, assessed_at: datetime) -> None:
        self.evidence.append(
            CountedEvidence(attempt_id, score, assessed_at, applied_order=len(self.evidence))
        )

    @event(LevelChanged)
    def change_level(
        self,
        student_id: str,
        outcome_id: str,
        level: Decimal | None,
        previous_level: Decimal | None,
        mastered: bool,
        method: str,
        evidence_count: int,
        triggered_by_attempt_id: str,
        traceparent: str,
    ) -> None:
        self.level = level
        self.mastered = mastered

    @property
    def attempt_ids(self) -> list[str]:
        return [item.attempt_id for item in self.evidence]


class KnownOutcome(Aggregate):
    """Mastery's copy of a catalog outcome (latest revision), from catalog events."""

    class Learned(Aggregate.Created):
        outcome_id: str
        revision: int
        mastery_threshold: Decimal

    class Updated(Aggregate.Event):
        revision: int
        mastery_threshold: Decimal

    @staticmethod
    def create_id(outcome_id: str) -> UUID:
        return uuid5(MASTERY_NAMESPACE, f"outcome\x1f{outcome_id}")

    @event(Learned)
    def __init__(self, outcome_id: str, revision: int, mastery_threshold: Decimal) -> None:
        self.outcome_id = outcome_id
        self.revision = revision
        self.mastery_threshold = mastery_threshold

    @event(Updated)
    def update(self, revision: int, mastery_threshold: Decimal) -> None:
        self.revision = revision
        self.mastery_threshold = mastery_threshold
