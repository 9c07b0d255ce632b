"""Evidence aggregates: every assessment attempt is an immutable event in its student's history.
Pure Python, no I/O.

- :class:`StudentEvidence`: all evidence of one student, totally ordered, so concurrent writers
  to the same student meet optimistic concurrency control instead of losing updates. A
  correction is a void or a new attempt that supersedes the old one; nothing is edited.
- :class:`IdempotencyRecord`: the result of a request made with a client-supplied key, saved in
  the same transaction as the request's events.
- :class:`XapiStatement`: an xAPI statement as received, with what it became.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from arc_contracts import ProficiencyScaleV1
from arc_evidence.rules import NewAttempt, Problem, Rejected, RejectionKind

#: Who made a change, with which client, when (``arc_platform.auth.RequestContext.actor()``);
#: None when not known (events stored before changes recorded it, scripts, tests).
Actor = dict[str, Any]

STUDENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/students")
IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/idempotency-keys")
STATEMENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/xapi-statements")


def student_aggregate_id(student_id: str) -> UUID:
    return uuid5(STUDENT_NAMESPACE, student_id)


def idempotency_aggregate_id(key: str) -> UUID:
    return uuid5(IDEMPOTENCY_NAMESPACE, key)


def statement_aggregate_id(statement_id: str) -> UUID:
    return uuid5(STATEMENT_NAMESPACE, statement_id.lower())


#: One validated scale per distinct scale: every attempt carries its scale and most carry one of
#: a few, yet a student's history kept in memory held a validated copy per attempt (3.5 KB of
#: the 4.4 KB an attempt took: 4.4 GB resident after a million-attempt bench ingest).
_SCALES: dict[str, ProficiencyScaleV1] = {}
_SCALES_LIMIT = 1000


def shared_scale(data: dict[str, Any]) -> ProficiencyScaleV1:
    """``ProficiencyScaleV1.model_validate(data)``, one (frozen, so shareable) object per
    distinct scale."""
    key = json.dumps(data, sort_keys=True, default=str)
    found = _SCALES.get(key)
    if found is None:
        if len(_SCALES) >= _SCALES_LIMIT:
            _SCALES.clear()
        found = _SCALES[key] = ProficiencyScaleV1.model_validate(data)
    return found


@dataclass(frozen=True)
class Void:
    reason: str
    voided_by: str
    voided_at: datetime


@dataclass(frozen=True)
class AttemptState:
    """One attempt in a student's history, with what happened to it since."""

    attempt: NewAttempt
    void: Void | None = None
    superseded_by: str | None = None

    @property
    def counts(self) -> bool:
        """Still evidence: neither voided nor replaced by a correction."""
        return self.void is None and self.superseded_by is None


class StudentEvidence(Aggregate):
    class Opened(Aggregate.Created):
        student_id: str

    class AttemptRecorded(Aggregate.Event):
        """Version 2 added everything after ``traceparent``, version 3 the ``actor`` (older
        events are upcast)."""

        class_version = 3

        student_id: str
        attempt_id: str
        outcome_id: str
        outcome_revision: int
        scale: dict[str, Any]
        score: Decimal | None
        assessed_at: datetime
        recorded_at: datetime
        recorded_by: str
        traceparent: str
        status: str
        assessment_ref: str | None
        assessment_kind: str
        weight: Decimal
        tags: list[str]
        attempt_number: int | None
        retake_of: str | None
        supersedes: str | None
        comment: str | None
        artifact_url: str | None
        source: str
        source_ref: str | None
        correction_reason: str | None
        actor: Actor | None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["actor"] = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(
                status="scored",
                assessment_ref=None,
                assessment_kind="test",
                weight=Decimal(1),
                tags=[],
                attempt_number=None,
                retake_of=None,
                supersedes=None,
                comment=None,
                artifact_url=None,
                source="api",
                source_ref=None,
                correction_reason=None,
            )

        def attempt(self) -> NewAttempt:
            return NewAttempt(
                attempt_id=self.attempt_id,
                student_id=self.student_id,
                outcome_id=self.outcome_id,
                outcome_revision=self.outcome_revision,
                scale=shared_scale(self.scale),
                status=self.status,
                score=self.score,
                assessed_at=self.assessed_at,
                recorded_at=self.recorded_at,
                recorded_by=self.recorded_by,
                assessment_ref=self.assessment_ref,
                assessment_kind=self.assessment_kind,
                weight=self.weight,
                tags=tuple(self.tags),
                attempt_number=self.attempt_number,
                retake_of=self.retake_of,
                supersedes=self.supersedes,
                comment=self.comment,
                artifact_url=self.artifact_url,
                source=self.source,
                source_ref=self.source_ref,
                correction_reason=self.correction_reason,
            )

        def apply(self, aggregate: Any) -> None:
            assert isinstance(aggregate, StudentEvidence)
            aggregate.attempts[self.attempt_id] = AttemptState(self.attempt())
            if self.supersedes:
                original = aggregate.attempts[self.supersedes]
                aggregate.attempts[self.supersedes] = dataclasses.replace(
                    original, superseded_by=self.attempt_id
                )

    class AttemptVoided(Aggregate.Event):
        """Version 2 added the ``actor`` (older events are upcast)."""

        class_version = 2

        student_id: str
        attempt_id: str
        outcome_id: str
        reason: str
        voided_by: str
        voided_at: datetime
        traceparent: str
        actor: Actor | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["actor"] = None

        def apply(self, aggregate: Any) -> None:
            assert isinstance(aggregate, StudentEvidence)
            state = aggregate.attempts[self.attempt_id]
            aggregate.attempts[self.attempt_id] = dataclasses.replace(
                state, void=Void(self.reason, self.voided_by, self.voided_at)
            )

    @staticmethod
    def create_id(student_id: str) -> UUID:
        return student_aggregate_id(student_id)

    @event(Opened)
    def __init__(self, student_id: str) -> None:
        self.student_id = student_id
        self.attempts: dict[str, AttemptState] = {}

    @property
    def attempt_ids(self) -> list[str]:
        return list(self.attempts)

    def link_problems(self, new: NewAttempt, entry: int | None = None) -> list[Problem]:
        """Why ``new`` cannot join this history: links to attempts it does not have."""
        found = []
        if new.attempt_id in self.attempts:
            found.append(Problem("attempt_id", f"{new.attempt_id!r} is already recorded"))
        if new.retake_of:
            original = self.attempts.get(new.retake_of)
            if original is None:
                description = f"student {self.student_id!r} has no attempt {new.retake_of!r}"
                found.append(Problem("retake_of", description, entry=entry))
            elif original.attempt.outcome_id != new.outcome_id:
                description = (
                    f"attempt {new.retake_of!r} is on outcome "
                    f"{original.attempt.outcome_id!r}, not {new.outcome_id!r}"
                )
                found.append(Problem("retake_of", description, entry=entry))
        if new.supersedes:
            found.extend(self.correction_problems(new.supersedes, new.outcome_id))
        return found

    def correction_problems(self, attempt_id: str, outcome_id: str | None = None) -> list[Problem]:
        """Why ``attempt_id`` cannot be voided or superseded (now)."""
        state = self.attempts.get(attempt_id)
        if state is None:
            description = f"student {self.student_id!r} has no attempt {attempt_id!r}"
            return [Problem("attempt_id", description)]
        if state.void is not None:
            return [Problem("attempt_id", f"attempt {attempt_id!r} is already voided")]
        if state.superseded_by is not None:
            return [
                Problem(
                    "attempt_id",
                    f"attempt {attempt_id!r} was superseded by {state.superseded_by!r}; "
                    "correct that one instead",
                )
            ]
        if outcome_id is not None and state.attempt.outcome_id != outcome_id:
            return [Problem("outcome_id", "a correction must be on the same outcome")]
        return []

    def record(self, new: NewAttempt, traceparent: str = "", actor: Actor | None = None) -> None:
        problems = self.link_problems(new)
        if problems:
            raise Rejected(problems)
        if new.retake_of and new.attempt_number is None:
            before = self.attempts[new.retake_of].attempt.attempt_number or 1
            new = dataclasses.replace(new, attempt_number=before + 1)
        self.trigger_event(
            self.AttemptRecorded,
            student_id=self.student_id,
            attempt_id=new.attempt_id,
            outcome_id=new.outcome_id,
            outcome_revision=new.outcome_revision,
            scale=new.scale.model_dump(mode="json"),
            score=new.score,
            assessed_at=new.assessed_at,
            recorded_at=new.recorded_at,
            recorded_by=new.recorded_by,
            traceparent=traceparent,
            status=new.status,
            assessment_ref=new.assessment_ref,
            assessment_kind=new.assessment_kind,
            weight=new.weight,
            tags=list(new.tags),
            attempt_number=new.attempt_number,
            retake_of=new.retake_of,
            supersedes=new.supersedes,
            comment=new.comment,
            artifact_url=new.artifact_url,
            source=new.source,
            source_ref=new.source_ref,
            correction_reason=new.correction_reason,
            actor=actor,
        )

    def void(
        self,
        attempt_id: str,
        reason: str,
        voided_by: str,
        voided_at: datetime,
        traceparent: str,
        actor: Actor | None = None,
    ) -> None:
        problems = self.correction_problems(attempt_id)
        if not reason.strip():
            problems.append(Problem("reason", "a void needs a reason"))
        if not voided_by.strip():
            problems.append(Problem("voided_by", "must not be empty"))
        if problems:
            state = self.attempts.get(attempt_id)
            kind: RejectionKind = "invalid"
            if state is None:
                kind = "not_found"
            elif not state.counts:
                kind = "conflict"
            raise Rejected(problems, kind)
        self.trigger_event(
            self.AttemptVoided,
            student_id=self.student_id,
            attempt_id=attempt_id,
            outcome_id=self.attempts[attempt_id].attempt.outcome_id,
            reason=reason.strip(),
            voided_by=voided_by.strip(),
            voided_at=voided_at,
            traceparent=traceparent,
            actor=actor,
        )

    def history(
        self,
        outcome_id: str | None = None,
        assessed_from: datetime | None = None,
        assessed_until: datetime | None = None,
        include_voided: bool = False,
    ) -> list[AttemptState]:
        """Attempts in the order they were recorded; voided and superseded ones only if asked."""
        return [
            state
            for state in self.attempts.values()
            if (include_voided or state.counts)
            and (outcome_id is None or state.attempt.outcome_id == outcome_id)
            and (assessed_from is None or state.attempt.assessed_at >= assessed_from)
            and (assessed_until is None or state.attempt.assessed_at < assessed_until)
        ]


class IdempotencyRecord(Aggregate):
    """A request key, a fingerprint of the request it was first used with, and its result."""

    class Used(Aggregate.Created):
        key: str
        fingerprint: str
        result: dict[str, Any]

    @staticmethod
    def create_id(key: str, **_: Any) -> UUID:
        return idempotency_aggregate_id(key)

    @event(Used)
    def __init__(self, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.result = result


class XapiStatement(Aggregate):
    """An xAPI statement exactly as stored (JSON text), and the attempts it became, or why it
    could not become any (then it is listed as unmapped until a retry maps it)."""

    class Stored(Aggregate.Created):
        """Version 2 added the ``actor``: who sent it (older events are upcast)."""

        class_version = 2

        statement_id: str
        statement: str
        fingerprint: str
        stored_at: datetime
        voids: str | None
        actor: Actor | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["actor"] = None

    class Mapped(Aggregate.Event):
        student_id: str
        attempt_ids: list[str]

    class MappingFailed(Aggregate.Event):
        problems: list[list[str]]

    class Voided(Aggregate.Event):
        by_statement_id: str

    @staticmethod
    def create_id(statement_id: str, **_: Any) -> UUID:
        return statement_aggregate_id(statement_id)

    @event(Stored)
    def __init__(
        self,
        statement_id: str,
        statement: str,
        fingerprint: str,
        stored_at: datetime,
        voids: str | None,
        actor: Actor | None = None,
    ) -> None:
        self.statement_id = statement_id
        self.statement = statement
        self.fingerprint = fingerprint
        self.stored_at = stored_at
        self.voids = voids
        self.student_id: str | None = None
        self.attempt_ids: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self.voided_by: str | None = None

    @event(Mapped)
    def mapped(self, student_id: str, attempt_ids: list[str]) -> None:
        self.student_id = student_id
        self.attempt_ids = list(attempt_ids)
        self.problems = []

    @event(MappingFailed)
    def mapping_failed(self, problems: list[list[str]]) -> None:
        self.problems = [(field, description) for field, description in problems]

    @event(Voided)
    def voided(self, by_statement_id: str) -> None:
        self.voided_by = by_statement_id

    @property
    def is_mapped(self) -> bool:
        return self.student_id is not None

    @property
    def status(self) -> str:
        if self.voided_by:
            return "voided"
        if self.voids is not None and not self.problems:
            return "voiding"
        return "mapped" if self.is_mapped else "unmapped"
