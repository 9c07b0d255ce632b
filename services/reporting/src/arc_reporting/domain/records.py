"""What reporting keeps of each event, as plain values (loaded from the read model)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

#: Order of statuses from furthest to closest to mastery (for sorting and charts).
STATUSES = ("no_evidence", "not_yet", "needs_judgment", "approaching", "mastered")


@dataclass(frozen=True)
class Attempt:
    attempt_id: str
    student_id: str
    outcome_id: str
    status: str  # scored, excused, missing
    score: Decimal | None
    assessed_at: datetime
    recorded_at: datetime
    recorded_by: str = ""
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: tuple[str, ...] = ()
    supersedes: str | None = None
    comment: str | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None


@dataclass(frozen=True)
class Change:
    """One published change of a student's standing on an outcome."""

    student_id: str
    outcome_id: str
    sequence: int
    before_value: Decimal | None
    before_level: Decimal | None
    before_status: str
    value: Decimal | None
    level: Decimal | None
    label: str | None
    status: str
    evidence_count: int
    method: str
    cause_kind: str
    cause_attempt_id: str | None
    assessed_at: datetime | None
    changed_at: datetime

    @property
    def when(self) -> datetime:
        """Where the change sits on a timeline: when the evidence behind it was shown (or, for
        a void or policy change, when the change was made)."""
        return self.assessed_at or self.changed_at

    @property
    def dropped(self) -> bool:
        """The level fell, or mastery was lost."""
        if self.before_status == "mastered" and self.status != "mastered":
            return True
        return self.before_level is not None and (
            self.level is None or self.level < self.before_level
        )

    @property
    def rose(self) -> bool:
        if self.status == "mastered" and self.before_status != "mastered":
            return True
        return self.level is not None and (
            self.before_level is None or self.level > self.before_level
        )


@dataclass(frozen=True)
class Standing:
    """Where a student stands on an outcome at some moment."""

    status: str
    value: Decimal | None = None
    level: Decimal | None = None
    label: str | None = None
    evidence_count: int = 0
    method: str | None = None
    since: datetime | None = None

    @property
    def mastered(self) -> bool:
        return self.status == "mastered"


NO_EVIDENCE = Standing("no_evidence")


def standing_of(change: Change) -> Standing:
    return Standing(
        change.status,
        change.value,
        change.level,
        change.label,
        change.evidence_count,
        change.method,
        change.changed_at,
    )
