"""Reporting's two calls to other services: mastery's ``Explain`` (what counts and why) and
evidence's ``RecordBatch`` (whole-class entry). Everything else reporting shows comes from
events."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc.mastery.v1 import mastery_pb2, mastery_pb2_grpc
from arc_platform.grpc_server import channel as traced_channel
from arc_platform.grpc_server import field_violations
from arc_reporting.forwarding import call_metadata

log = logging.getLogger(__name__)


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def _when(stamp: Timestamp) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if stamp.seconds or stamp.nanos else None


class _Channels:
    """One channel per event loop (a gRPC aio channel belongs to the loop that made it)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._by_loop: dict[int, grpc.aio.Channel] = {}

    def get(self) -> grpc.aio.Channel:
        key = id(asyncio.get_running_loop())
        if key not in self._by_loop:
            self._by_loop[key] = traced_channel(self.target)
        return self._by_loop[key]


# --- explanations --------------------------------------------------------------------------


@dataclass(frozen=True)
class CountedPiece:
    attempt_id: str
    score: str
    assessed_at: datetime | None
    contribution: str | None


@dataclass(frozen=True)
class ExcludedPiece:
    attempt_id: str
    reason: str
    assessed_at: datetime | None


@dataclass(frozen=True)
class Explained:
    summary: str
    method: str
    params: dict[str, str]
    policy_id: str
    policy_revision: int
    status: str
    value: str | None
    level_label: str | None
    counted: list[CountedPiece] = field(default_factory=list)
    excluded: list[ExcludedPiece] = field(default_factory=list)


class Explainer(Protocol):
    async def explain(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> Explained | None: ...


class NoExplainer:
    """When no mastery service is configured: views show no explanation."""

    async def explain(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> Explained | None:
        return None


class MasteryExplainer:
    def __init__(self, target: str, timeout: float = 3.0) -> None:
        self.channels = _Channels(target)
        self.timeout = timeout

    async def explain(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> Explained | None:
        request = mastery_pb2.ExplainRequest(student_id=student_id, outcome_id=outcome_id)
        if as_of is not None:
            request.as_known_at.CopyFrom(_stamp(as_of))
        try:
            reply = await mastery_pb2_grpc.MasteryServiceStub(self.channels.get()).Explain(
                request, timeout=self.timeout, metadata=call_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                log.warning(
                    "mastery Explain failed for %s/%s: %s", student_id, outcome_id, exc.code()
                )
            return None
        standing = reply.standing
        return Explained(
            summary=reply.summary,
            method=reply.method,
            params=dict(reply.params),
            policy_id=reply.policy_id,
            policy_revision=reply.policy_revision,
            status=standing.status,
            value=standing.value if standing.has_value else None,
            level_label=standing.level_label or None,
            counted=[
                CountedPiece(
                    c.attempt_id,
                    c.score,
                    _when(c.assessed_at),
                    c.contribution if c.has_contribution else None,
                )
                for c in reply.counted
            ],
            excluded=[
                ExcludedPiece(e.attempt_id, e.reason, _when(e.assessed_at)) for e in reply.excluded
            ],
        )


async def explain_many(
    explainer: Explainer, student_id: str, outcome_ids: list[str], as_of: datetime | None
) -> dict[str, Explained]:
    """Explanations of several outcomes at once (concurrently)."""
    found = await asyncio.gather(*(explainer.explain(student_id, o, as_of) for o in outcome_ids))
    return {o: e for o, e in zip(outcome_ids, found, strict=True) if e is not None}


# --- whole-class evidence entry ------------------------------------------------------------

STATUS_CODES = {
    "scored": evidence_pb2.ATTEMPT_STATUS_SCORED,
    "excused": evidence_pb2.ATTEMPT_STATUS_EXCUSED,
    "missing": evidence_pb2.ATTEMPT_STATUS_MISSING,
}
KIND_CODES = {
    "test": evidence_pb2.ASSESSMENT_KIND_TEST,
    "project": evidence_pb2.ASSESSMENT_KIND_PROJECT,
    "performance_task": evidence_pb2.ASSESSMENT_KIND_PERFORMANCE_TASK,
    "observation": evidence_pb2.ASSESSMENT_KIND_OBSERVATION,
    "conversation": evidence_pb2.ASSESSMENT_KIND_CONVERSATION,
    "portfolio_artifact": evidence_pb2.ASSESSMENT_KIND_PORTFOLIO_ARTIFACT,
    "self_assessment": evidence_pb2.ASSESSMENT_KIND_SELF_ASSESSMENT,
}


@dataclass(frozen=True)
class ScoreCell:
    outcome_id: str
    score: Decimal | None
    status: str  # scored, excused, missing


@dataclass(frozen=True)
class EntryRow:
    student_id: str
    scores: tuple[ScoreCell, ...]
    comment: str | None = None


@dataclass(frozen=True)
class ClassEntry:
    """One assessment for a whole class (only students with something entered)."""

    section_id: str
    recorded_by: str
    assessed_at: datetime
    assessment_ref: str
    assessment_kind: str
    rows: tuple[EntryRow, ...]
    idempotency_key: str


@dataclass(frozen=True)
class EntryResult:
    attempts: int
    position: int
    replayed: bool


class EntryRejected(Exception):
    """The evidence service refused the entry (nothing was recorded)."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {d}" for f, d in violations))
        self.violations = violations


class EvidenceEntry(Protocol):
    async def record(self, entry: ClassEntry) -> EntryResult: ...


class EvidenceUnavailable(RuntimeError):
    pass


def batch_request(entry: ClassEntry) -> evidence_pb2.RecordBatchRequest:
    return evidence_pb2.RecordBatchRequest(
        recorded_by=entry.recorded_by,
        assessed_at=_stamp(entry.assessed_at),
        assessment_ref=entry.assessment_ref,
        assessment_kind=KIND_CODES[entry.assessment_kind],
        idempotency_key=entry.idempotency_key,
        section_id=entry.section_id,
        rows=[
            evidence_pb2.BatchRow(
                student_id=row.student_id,
                comment=row.comment or "",
                scores=[
                    evidence_pb2.OutcomeScore(
                        outcome_id=cell.outcome_id,
                        score="" if cell.score is None else str(cell.score),
                        status=STATUS_CODES[cell.status],
                    )
                    for cell in row.scores
                ],
            )
            for row in entry.rows
        ],
    )


class EvidenceClient:
    def __init__(self, target: str, timeout: float = 10.0) -> None:
        self.channels = _Channels(target)
        self.timeout = timeout

    async def record(self, entry: ClassEntry) -> EntryResult:
        stub = evidence_pb2_grpc.EvidenceServiceStub(self.channels.get())
        try:
            reply = await stub.RecordBatch(
                batch_request(entry), timeout=self.timeout, metadata=call_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.FAILED_PRECONDITION,
            ):
                raise EntryRejected(field_violations(exc) or [("", exc.details() or "")]) from exc
            raise EvidenceUnavailable(f"evidence service: {exc.code().name}") from exc
        return EntryResult(
            sum(len(r.attempt_ids) for r in reply.rows), reply.position, reply.replayed
        )


class NoEvidenceEntry:
    async def record(self, entry: ClassEntry) -> EntryResult:
        raise EvidenceUnavailable("no evidence service is configured (ARC_EVIDENCE_TARGET)")
