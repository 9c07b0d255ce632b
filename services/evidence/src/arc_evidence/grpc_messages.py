"""Evidence's protobuf messages read as drafts (every malformed field noted) and attempts
written as messages; problems named by request field paths."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.evidence.v1 import evidence_pb2 as pb
from arc_evidence.domain import AttemptState
from arc_evidence.rules import AttemptDraft, Problem, ScoreEntry
from arc_platform.grpc_server import FieldViolation

STATUSES: dict[int, str] = {
    pb.ATTEMPT_STATUS_UNSPECIFIED: "scored",
    pb.ATTEMPT_STATUS_SCORED: "scored",
    pb.ATTEMPT_STATUS_EXCUSED: "excused",
    pb.ATTEMPT_STATUS_MISSING: "missing",
}
KINDS: dict[int, str] = {
    pb.ASSESSMENT_KIND_UNSPECIFIED: "test",
    pb.ASSESSMENT_KIND_TEST: "test",
    pb.ASSESSMENT_KIND_PROJECT: "project",
    pb.ASSESSMENT_KIND_PERFORMANCE_TASK: "performance_task",
    pb.ASSESSMENT_KIND_OBSERVATION: "observation",
    pb.ASSESSMENT_KIND_CONVERSATION: "conversation",
    pb.ASSESSMENT_KIND_PORTFOLIO_ARTIFACT: "portfolio_artifact",
    pb.ASSESSMENT_KIND_SELF_ASSESSMENT: "self_assessment",
}
CODES = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "conflict": grpc.StatusCode.FAILED_PRECONDITION,
}


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


class Parser:
    """Reads request fields, noting every malformed one (named) instead of stopping."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def bad(self, name: str, description: str) -> None:
        self.violations.append(FieldViolation(name, description))

    def decimal(self, name: str, text: str) -> Decimal | None:
        if not text.strip():
            return None
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            self.bad(name, f"{text!r} is not a decimal number")
            return None
        return value

    def number(self, name: str, value: float) -> Decimal:
        if not math.isfinite(value):
            self.bad(name, "must be a finite number")
            return Decimal(0)
        return Decimal(str(value))

    def weight(self, request: pb.RecordAttemptRequest | pb.RecordBatchRequest) -> Decimal:
        if not request.HasField("weight"):
            return Decimal(1)
        return self.number("weight", request.weight)

    def status(self, name: str, value: int) -> str:
        if value not in STATUSES:
            self.bad(name, f"unknown status {value}")
        return STATUSES.get(value, "scored")

    def kind(self, name: str, value: int) -> str:
        if value not in KINDS:
            self.bad(name, f"unknown assessment kind {value}")
        return KINDS.get(value, "test")

    def when(self, message: Any, name: str) -> datetime | None:
        if not message.HasField(name):
            return None
        stamp: Timestamp = getattr(message, name)
        return stamp.ToDatetime(tzinfo=UTC)

    def entries(self, prefix: str, scores: Sequence[pb.OutcomeScore]) -> tuple[ScoreEntry, ...]:
        return tuple(
            ScoreEntry(
                outcome_id=score.outcome_id,
                score=self.decimal(f"{prefix}scores[{index}].score", score.score),
                status=self.status(f"{prefix}scores[{index}].status", score.status),
                retake_of=score.retake_of or None,
                attempt_number=score.attempt_number or None,
            )
            for index, score in enumerate(scores)
        )


def single_draft(request: pb.RecordAttemptRequest, parser: Parser) -> AttemptDraft:
    if request.scores and request.outcome_id:
        parser.bad("outcome_id", "give outcome_id and score, or scores, not both")
    if request.scores:
        entries = parser.entries("", request.scores)
    else:
        status = parser.status("status", request.status)
        score: Decimal | None = parser.number("score", request.score)
        if status != "scored" and score == 0:
            score = None  # an unset double is 0: excused and missing attempts have no score
        entries = (
            ScoreEntry(
                request.outcome_id,
                score,
                status,
                request.retake_of or None,
                request.attempt_number or None,
            ),
        )
    return AttemptDraft(
        student_id=request.student_id,
        entries=entries,
        assessed_at=parser.when(request, "assessed_at"),
        recorded_by=request.recorded_by,
        assessment_ref=request.assessment_ref or None,
        assessment_kind=parser.kind("assessment_kind", request.assessment_kind),
        weight=parser.weight(request),
        tags=tuple(request.tags),
        comment=request.comment or None,
        artifact_url=request.artifact_url or None,
        source="api",
    )


def batch_drafts(request: pb.RecordBatchRequest, parser: Parser) -> list[AttemptDraft]:
    weight = parser.weight(request)
    kind = parser.kind("assessment_kind", request.assessment_kind)
    assessed_at = parser.when(request, "assessed_at")
    return [
        AttemptDraft(
            student_id=row.student_id,
            entries=parser.entries(f"rows[{index}].", row.scores),
            assessed_at=parser.when(row, "assessed_at") or assessed_at,
            recorded_by=request.recorded_by,
            assessment_ref=request.assessment_ref or None,
            assessment_kind=kind,
            weight=weight,
            tags=(*request.tags, *row.tags),
            comment=row.comment or None,
            artifact_url=row.artifact_url or None,
            source="batch",
        )
        for index, row in enumerate(request.rows)
    ]


def item_name(problem: Problem, multi: bool) -> str:
    """The request field of a problem found in one item (RecordAttempt, SupersedeAttempt)."""
    if problem.field == "scores":
        return "scores" if multi else "outcome_id"
    if problem.entry is not None and multi:
        return f"scores[{problem.entry}].{problem.field}"
    return problem.field


def batch_name(problem: Problem, request: pb.RecordBatchRequest) -> str:
    """Batch-level values (recorded_by, the batch's tags…) are named once, at the top."""
    if problem.row is None:
        return problem.field
    row = request.rows[problem.row]
    prefix = f"rows[{problem.row}]."
    if problem.field in ("recorded_by", "assessment_ref", "assessment_kind", "weight"):
        return problem.field
    if problem.field == "assessed_at" and not row.HasField("assessed_at"):
        return "assessed_at"
    if problem.field.startswith("tags["):
        index = int(problem.field[5:-1])
        if index < len(request.tags):
            return problem.field
        return f"{prefix}tags[{index - len(request.tags)}]"
    return prefix + item_name(problem, multi=True)


def unique(violations: Iterable[FieldViolation]) -> list[FieldViolation]:
    seen: set[tuple[str, str]] = set()
    found = []
    for violation in violations:
        if (violation.field, violation.description) not in seen:
            seen.add((violation.field, violation.description))
            found.append(violation)
    return found


def attempt_message(state: AttemptState) -> pb.Attempt:
    a = state.attempt
    message = pb.Attempt(
        attempt_id=a.attempt_id,
        student_id=a.student_id,
        outcome_id=a.outcome_id,
        score=float(a.score) if a.score is not None else 0.0,
        score_text=str(a.score) if a.score is not None else "",
        status=pb.AttemptStatus.Value(f"ATTEMPT_STATUS_{a.status.upper()}"),
        assessed_at=timestamp(a.assessed_at),
        recorded_at=timestamp(a.recorded_at),
        recorded_by=a.recorded_by,
        outcome_revision=a.outcome_revision,
        scale_name=a.scale.name,
        scale_revision=a.scale.revision,
        assessment_ref=a.assessment_ref or "",
        assessment_kind=pb.AssessmentKind.Value(f"ASSESSMENT_KIND_{a.assessment_kind.upper()}"),
        weight=str(a.weight),
        tags=a.tags,
        attempt_number=a.attempt_number or 0,
        retake_of=a.retake_of or "",
        supersedes=a.supersedes or "",
        superseded_by=state.superseded_by or "",
        comment=a.comment or "",
        artifact_url=a.artifact_url or "",
        source=a.source,
        source_ref=a.source_ref or "",
        correction_reason=a.correction_reason or "",
        voided=state.void is not None,
    )
    if state.void is not None:
        message.void_reason = state.void.reason
        message.voided_by = state.void.voided_by
        message.voided_at.CopyFrom(timestamp(state.void.voided_at))
    return message
