"""Reporting's read model, built only from events: outcomes, attempts and level changes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arc_contracts import (
    AttemptRecordedV1,
    ContractEvent,
    MasteryChangedV1,
    OutcomeDefinedV1,
    ProficiencyScaleV1,
)
from arc_platform.consumer import Delivery, consuming_span
from arc_platform.views import TrackedView

log = logging.getLogger(__name__)
metadata = sa.MetaData()

SCORE = sa.Numeric(12, 4)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("outcome_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("code", sa.String(200), nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("scale", sa.Text, nullable=False),
)
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("attempt_id", sa.String(64), primary_key=True),
    sa.Column("student_id", sa.String(200), nullable=False),
    sa.Column("outcome_id", sa.String(200), nullable=False),
    sa.Column("score", SCORE, nullable=False),
    sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Index("ix_attempts_student_outcome", "student_id", "outcome_id"),
)
level_changes = sa.Table(
    "level_changes",
    metadata,
    sa.Column("stream_sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("student_id", sa.String(200), nullable=False),
    sa.Column("outcome_id", sa.String(200), nullable=False),
    sa.Column("level", SCORE, nullable=True),
    sa.Column("previous_level", SCORE, nullable=True),
    sa.Column("mastered", sa.Boolean, nullable=False),
    sa.Column("method", sa.String(100), nullable=False),
    sa.Column("triggered_by_attempt_id", sa.String(64), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_level_changes_student_outcome", "student_id", "outcome_id"),
)


@dataclass(frozen=True)
class AttemptRow:
    attempt_id: str
    score: Decimal
    assessed_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class ChangeRow:
    level: Decimal | None
    previous_level: Decimal | None
    mastered: bool
    method: str
    triggered_by_attempt_id: str
    changed_at: datetime


@dataclass
class StudentOutcomeReport:
    """Where student S is on outcome O, and how they got there."""

    student_id: str
    outcome_id: str
    outcome_code: str = ""
    outcome_statement: str = ""
    level: Decimal | None = None
    level_label: str = ""
    mastered: bool = False
    attempts: list[AttemptRow] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)


class ReportingReadModel:
    def __init__(self, engine: Engine) -> None:
        self.view = TrackedView(engine, metadata)

    def position(self, stream: str) -> int:
        return self.view.position(stream)

    def apply(self, batch: list[Delivery]) -> None:
        with self.view.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                with consuming_span(delivery):
                    if delivery.event is not None:
                        self._apply(conn, delivery.sequence, delivery.event)
                    else:
                        log.error(
                            "skipped malformed message %s#%s: %s",
                            delivery.stream,
                            delivery.sequence,
                            delivery.problem,
                        )

    def _apply(self, conn: sa.Connection, sequence: int, event: ContractEvent) -> None:
        if isinstance(event, AttemptRecordedV1):
            conn.execute(
                sa.insert(attempts).values(
                    attempt_id=event.attempt_id,
                    student_id=event.student_id,
                    outcome_id=event.outcome_id,
                    score=event.score,
                    assessed_at=event.assessed_at,
                    recorded_by=event.recorded_by,
                )
            )
        elif isinstance(event, MasteryChangedV1):
            conn.execute(
                sa.insert(level_changes).values(
                    stream_sequence=sequence,
                    student_id=event.student_id,
                    outcome_id=event.outcome_id,
                    level=event.after.value,
                    previous_level=event.before.value,
                    mastered=event.after.status == "mastered",
                    method=event.method,
                    triggered_by_attempt_id=event.cause.attempt_id or "",
                    changed_at=event.changed_at,
                )
            )
        elif isinstance(event, OutcomeDefinedV1):
            self._upsert_outcome(conn, event)

    def _upsert_outcome(self, conn: sa.Connection, event: OutcomeDefinedV1) -> None:
        values: dict[str, Any] = {
            "revision": event.revision,
            "code": event.code,
            "statement": event.statement,
            "scale": event.scale.model_dump_json(),
        }
        current = conn.execute(
            sa.select(outcomes.c.revision).where(outcomes.c.outcome_id == event.outcome_id)
        ).first()
        if current is None:
            conn.execute(sa.insert(outcomes).values(outcome_id=event.outcome_id, **values))
        elif current[0] < event.revision:
            conn.execute(
                sa.update(outcomes)
                .where(outcomes.c.outcome_id == event.outcome_id)
                .values(**values)
            )

    def student_outcome(self, student_id: str, outcome_id: str) -> StudentOutcomeReport:
        report = StudentOutcomeReport(student_id, outcome_id)
        with self.view.engine.connect() as conn:
            outcome = conn.execute(
                sa.select(outcomes).where(outcomes.c.outcome_id == outcome_id)
            ).first()
            pair = (attempts.c.student_id == student_id) & (attempts.c.outcome_id == outcome_id)
            report.attempts = [
                AttemptRow(row.attempt_id, Decimal(row.score), row.assessed_at, row.recorded_by)
                for row in conn.execute(
                    sa.select(attempts).where(pair).order_by(attempts.c.assessed_at)
                )
            ]
            changes_pair = (level_changes.c.student_id == student_id) & (
                level_changes.c.outcome_id == outcome_id
            )
            report.changes = [
                ChangeRow(
                    _decimal(row.level),
                    _decimal(row.previous_level),
                    row.mastered,
                    row.method,
                    row.triggered_by_attempt_id,
                    row.changed_at,
                )
                for row in conn.execute(
                    sa.select(level_changes)
                    .where(changes_pair)
                    .order_by(level_changes.c.stream_sequence)
                )
            ]
        if outcome is not None:
            report.outcome_code = outcome.code
            report.outcome_statement = outcome.statement
        if report.changes:
            latest = report.changes[-1]
            report.level = latest.level
            report.mastered = latest.mastered
            if outcome is not None and latest.level is not None:
                report.level_label = label_for(outcome.scale, latest.level)
        return report


def label_for(scale_json: str, level: Decimal) -> str:
    """The label of the highest scale level at or below ``level`` ("Meets" for 3.2 on 1–4)."""
    scale = ProficiencyScaleV1.model_validate(json.loads(scale_json))
    label = ""
    for candidate in scale.levels:
        if candidate.value <= level:
            label = candidate.label
    return label


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
