"""gRPC adapter of evidence: parse, call the application, map errors. No rules here."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc_evidence.application import EvidenceApplication, RejectedAttempt
from arc_evidence.catalog_view import CatalogView
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_platform.telemetry import current_traceparent


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


class EvidenceServicer(evidence_pb2_grpc.EvidenceServiceServicer):
    def __init__(
        self, app: EvidenceApplication, catalog: CatalogView, on_recorded: Callable[[], None]
    ) -> None:
        self.app = app
        self.catalog = catalog
        self.on_recorded = on_recorded

    async def RecordAttempt(
        self, request: evidence_pb2.RecordAttemptRequest, context: grpc.aio.ServicerContext
    ) -> evidence_pb2.RecordAttemptResponse:
        if not math.isfinite(request.score):
            await abort_with(context, [FieldViolation("score", "must be a finite number")])
        assessed_at = (
            request.assessed_at.ToDatetime(tzinfo=UTC) if request.HasField("assessed_at") else None
        )
        try:
            recorded = self.app.record_attempt(
                student_id=request.student_id,
                outcome_id=request.outcome_id,
                outcome=self.catalog.find(request.outcome_id),
                score=Decimal(str(request.score)),
                assessed_at=assessed_at,
                recorded_by=request.recorded_by,
                now=datetime.now(UTC),
                traceparent=current_traceparent(),
            )
        except RejectedAttempt as exc:
            await abort_with(
                context, [FieldViolation(v.field, v.description) for v in exc.violations]
            )
            raise AssertionError("unreachable") from exc
        self.on_recorded()
        return evidence_pb2.RecordAttemptResponse(
            attempt_id=recorded.attempt_id, position=recorded.position
        )

    async def ListAttempts(
        self, request: evidence_pb2.ListAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> evidence_pb2.ListAttemptsResponse:
        return evidence_pb2.ListAttemptsResponse(
            attempts=[
                evidence_pb2.Attempt(
                    attempt_id=event.attempt_id,
                    student_id=event.student_id,
                    outcome_id=event.outcome_id,
                    score=float(event.score),
                    assessed_at=timestamp(event.assessed_at),
                    recorded_at=timestamp(event.recorded_at),
                    recorded_by=event.recorded_by,
                )
                for event in self.app.attempts_of(request.student_id)
            ]
        )
