"""Reporting's own event store, for the one thing it publishes: mastery warnings. Each
student's active warnings are an aggregate; a warning raised, changed or cleared is a stored
event, published by the outbox relay (exactly once: stable ids + JetStream deduplication).

Evaluating twice gives no new event: only a difference from the stored state is recorded,
and two evaluators racing on one student conflict on the aggregate's version (one retries)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from arc_reporting.domain.early_warning import Warning, WarningRule
from arc_reporting.domain.records import Standing

log = logging.getLogger(__name__)
NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/reporting/warnings")
INDEX_ID = uuid5(NAMESPACE, "index")


def warnings_id(student_id: str) -> UUID:
    return uuid5(NAMESPACE, f"student\x1f{student_id}")


class StudentWarnings(Aggregate):
    """The warnings currently raised for one student, by outcome."""

    @event("Started")
    def __init__(self, student_id: str) -> None:
        self.student_id = student_id
        self.active: dict[str, dict[str, Any]] = {}

    @classmethod
    def create_id(cls, student_id: str) -> UUID:
        return warnings_id(student_id)

    @event("WarningChanged")
    def change(
        self,
        student_id: str,
        outcome_id: str,
        warning_id: str,
        state: str,
        reasons: list[str],
        detail: str,
        status: str,
        value: str | None,
        level_label: str | None,
        last_evidence_at: datetime | None,
        course_ids: list[str],
        rule: dict[str, str],
        evaluated_at: datetime,
    ) -> None:
        if state == "cleared":
            self.active.pop(outcome_id, None)
        else:
            self.active[outcome_id] = {"warning_id": warning_id, "reasons": list(reasons)}


class WarnedStudents(Aggregate):
    """Which students have any warning raised (so that they are re-checked and cleared)."""

    @event("Started")
    def __init__(self) -> None:
        self.students: set[str] = set()

    @classmethod
    def create_id(cls) -> UUID:
        return INDEX_ID

    @event("Changed")
    def set_students(self, added: list[str], removed: list[str]) -> None:
        self.students |= set(added)
        self.students -= set(removed)


class WarningStore(Application[UUID]):
    name = "reporting"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_recorded: Any = lambda: None

    def index(self) -> WarnedStudents:
        try:
            found: WarnedStudents = self.repository.get(INDEX_ID)
        except AggregateNotFoundError:
            return WarnedStudents()
        return found

    def student(self, student_id: str) -> StudentWarnings:
        try:
            found: StudentWarnings = self.repository.get(warnings_id(student_id))
        except AggregateNotFoundError:
            return StudentWarnings(student_id)
        return found

    def active(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (student, outcome): item
            for student in sorted(self.index().students)
            for outcome, item in self.student(student).active.items()
        }

    def record(
        self,
        found: Iterable[tuple[Warning, tuple[str, ...]]],
        rule: WarningRule,
        now: datetime,
        standing_of: Callable[[str, str], Standing],
    ) -> int:
        """Bring the stored warnings to ``found`` (the complete set now); returns how many
        changes were recorded. Retries once on a concurrent write."""
        for attempt in range(3):
            try:
                return self._record_changes(list(found), rule, now, standing_of)
            except IntegrityError:
                log.info("concurrent warning evaluation; retrying (%s)", attempt + 1)
        return 0

    def _record_changes(
        self,
        found: list[tuple[Warning, tuple[str, ...]]],
        rule: WarningRule,
        now: datetime,
        standing_of: Callable[[str, str], Standing],
    ) -> int:
        wanted = {(w.student_id, w.outcome_id): (w, courses) for w, courses in found}
        index = self.index()
        students = sorted(index.students | {s for s, _ in wanted})
        touched: list[Aggregate] = []
        changes = 0
        for student_id in students:
            aggregate = self.student(student_id)
            before = len(aggregate.pending_events)
            for outcome_id in sorted(
                set(aggregate.active) - {o for s, o in wanted if s == student_id}
            ):
                current = aggregate.active[outcome_id]
                standing = standing_of(student_id, outcome_id)
                aggregate.change(
                    student_id,
                    outcome_id,
                    current["warning_id"],
                    "cleared",
                    [],
                    "the warning no longer applies",
                    standing.status,
                    None if standing.value is None else str(standing.value),
                    standing.label,
                    None,
                    [],
                    rule.params(),
                    now,
                )
            for (s, outcome_id), (warning, courses) in sorted(wanted.items()):
                if s != student_id:
                    continue
                existing = aggregate.active.get(outcome_id)
                if existing is not None and existing["reasons"] == list(warning.reasons):
                    continue
                aggregate.change(
                    student_id,
                    outcome_id,
                    existing["warning_id"] if existing else str(uuid.uuid4()),
                    "updated" if existing else "raised",
                    list(warning.reasons),
                    warning.detail,
                    warning.standing.status,
                    None if warning.standing.value is None else str(warning.standing.value),
                    warning.standing.label,
                    warning.last_evidence_at,
                    list(courses),
                    rule.params(),
                    now,
                )
            if len(aggregate.pending_events) > before:
                touched.append(aggregate)
                changes += len(aggregate.pending_events) - before
        now_warned = {a.student_id for a in touched if isinstance(a, StudentWarnings) and a.active}
        gone = {a.student_id for a in touched if isinstance(a, StudentWarnings) and not a.active}
        added, removed = sorted(now_warned - index.students), sorted(gone & index.students)
        if added or removed:
            index.set_students(added, removed)
            touched.append(index)
        if touched:
            self.save(*touched)
            self.on_recorded()
        return changes
