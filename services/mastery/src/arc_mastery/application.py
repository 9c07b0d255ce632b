"""Mastery projection: applies evidence and catalog events, in stream order, and records each
batch's effects together with the stream position it reached (one transaction)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import ProcessRecorder, Tracking
from eventsourcing.utils import get_topic

from arc_contracts import AttemptRecordedV1, OutcomeDefinedV1
from arc_mastery.domain import KnownOutcome, StudentOutcomeMastery, mastery_id
from arc_platform.consumer import Delivery, consuming_span
from arc_platform.telemetry import current_traceparent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasteryState:
    """What an auditor compares between a live projection and a rebuild."""

    student_id: str
    outcome_id: str
    level: Decimal | None
    mastered: bool
    attempt_ids: tuple[str, ...]
    level_changes: int


class MasteryApplication(Application[UUID]):
    name = "mastery"
    env = {"AGGREGATE_CACHE_MAXSIZE": "20000"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_recorded: Callable[[], None] = lambda: None

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def position(self, stream: str) -> int:
        return self.process_recorder.max_tracking_id(stream) or 0

    def apply_batch(self, batch: list[Delivery]) -> None:
        """Apply deliveries in order; one transaction records effects and the new position."""
        touched: dict[UUID, Any] = {}
        for delivery in batch:
            with consuming_span(delivery):
                self._apply(delivery, touched)
        processing = ProcessingEvent[UUID](Tracking(batch[0].stream, batch[-1].sequence))
        processing.collect_events(*touched.values())
        self._record(processing)
        if processing.events:
            self.on_recorded()

    def _apply(self, delivery: Delivery, touched: dict[UUID, Any]) -> None:
        event = delivery.event
        if isinstance(event, AttemptRecordedV1):
            mastery = self._mastery(event.student_id, event.outcome_id, touched)
            mastery.consider(
                attempt_id=event.attempt_id,
                score=event.score,
                assessed_at=event.assessed_at,
                mastery_threshold=event.scale.mastery_threshold,
                traceparent=current_traceparent(),
            )
        elif isinstance(event, OutcomeDefinedV1):
            self._learn_outcome(event, touched)
        elif delivery.problem:
            log.error(
                "skipped malformed message %s#%s: %s",
                delivery.stream,
                delivery.sequence,
                delivery.problem,
            )

    def _mastery(
        self, student_id: str, outcome_id: str, touched: dict[UUID, Any]
    ) -> StudentOutcomeMastery:
        key = mastery_id(student_id, outcome_id)
        if key not in touched:
            touched[key] = self.find_mastery(student_id, outcome_id) or StudentOutcomeMastery(
                student_id=student_id, outcome_id=outcome_id
            )
        found: StudentOutcomeMastery = touched[key]
        return found

    def _learn_outcome(self, event: OutcomeDefinedV1, touched: dict[UUID, Any]) -> None:
        key = KnownOutcome.create_id(event.outcome_id)
        outcome: KnownOutcome | None = touched.get(key)
        if outcome is None:
            try:
                outcome = self.repository.get(key)
            except AggregateNotFoundError:
                touched[key] = KnownOutcome(
                    outcome_id=event.outcome_id,
                    revision=event.revision,
                    mastery_threshold=event.scale.mastery_threshold,
                )
                return
        if event.revision > outcome.revision:
            outcome.update(revision=event.revision, mastery_threshold=event.scale.mastery_threshold)
            touched[key] = outcome

    def find_mastery(self, student_id: str, outcome_id: str) -> StudentOutcomeMastery | None:
        try:
            found: StudentOutcomeMastery = self.repository.get(mastery_id(student_id, outcome_id))
        except AggregateNotFoundError:
            return None
        return found

    def all_states(self) -> list[MasteryState]:
        """Every student-outcome pair, read back from the store (for audits and rebuild checks)."""
        ids: dict[UUID, None] = {}
        position = 0
        while True:
            notes = self.recorder.select_notifications(
                position,
                1000,
                topics=[get_topic(StudentOutcomeMastery.Started)],
                inclusive_of_start=False,
            )
            if not notes:
                break
            for note in notes:
                ids[UUID(str(note.originator_id))] = None
            position = notes[-1].id
        states = []
        for aggregate_id in ids:
            mastery: StudentOutcomeMastery = self.repository.get(aggregate_id)
            changes = sum(
                isinstance(stored, StudentOutcomeMastery.LevelChanged)
                for stored in self.events.get(aggregate_id)
            )
            states.append(
                MasteryState(
                    mastery.student_id,
                    mastery.outcome_id,
                    mastery.level,
                    mastery.mastered,
                    tuple(mastery.attempt_ids),
                    changes,
                )
            )
        return sorted(states, key=lambda s: (s.student_id, s.outcome_id))
