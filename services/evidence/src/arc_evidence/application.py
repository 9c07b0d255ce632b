"""Evidence use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from arc_evidence.domain import (
    KnownOutcome,
    StudentEvidence,
    Violation,
    check_attempt,
    scale_value,
    student_aggregate_id,
)


class RejectedAttempt(ValueError):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


@dataclass(frozen=True)
class Recorded:
    attempt_id: str
    position: int


class EvidenceApplication(Application[UUID]):
    name = "evidence"
    #: Retries when another writer appended to the same student first.
    max_conflict_retries = 5

    def record_attempt(
        self,
        *,
        student_id: str,
        outcome_id: str,
        outcome: KnownOutcome | None,
        score: Decimal,
        assessed_at: datetime | None,
        recorded_by: str,
        now: datetime,
        traceparent: str = "",
    ) -> Recorded:
        violations = check_attempt(
            student_id=student_id,
            outcome_id=outcome_id,
            outcome=outcome,
            score=score,
            assessed_at=assessed_at,
            recorded_by=recorded_by,
            now=now,
        )
        if violations:
            raise RejectedAttempt(violations)
        assert outcome is not None and assessed_at is not None
        attempt_id = str(uuid4())
        canonical_score = scale_value(outcome.scale, score)
        assert canonical_score is not None  # check_attempt refused scores off the scale
        for attempt in range(self.max_conflict_retries):
            student = self._student(student_id)
            student.record_attempt(
                student_id=student.student_id,
                attempt_id=attempt_id,
                outcome_id=outcome.outcome_id,
                outcome_revision=outcome.revision,
                scale=outcome.scale.model_dump(mode="json"),
                score=canonical_score,
                assessed_at=assessed_at,
                recorded_at=now,
                recorded_by=recorded_by.strip(),
                traceparent=traceparent,
            )
            try:
                recordings = self.save(student)
            except IntegrityError:
                if attempt == self.max_conflict_retries - 1:
                    raise
                continue
            return Recorded(attempt_id, recordings[-1].notification.id)
        raise AssertionError("unreachable")

    def _student(self, student_id: str) -> StudentEvidence:
        try:
            student: StudentEvidence = self.repository.get(student_aggregate_id(student_id))
        except AggregateNotFoundError:
            return StudentEvidence(student_id=student_id)
        return student

    def attempts_of(self, student_id: str) -> list[StudentEvidence.AttemptRecorded]:
        found = []
        for stored in self.events.get(student_aggregate_id(student_id)):
            if isinstance(stored, StudentEvidence.AttemptRecorded):
                found.append(stored)
        return found
