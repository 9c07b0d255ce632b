"""gRPC adapter of reporting (thin: the views do the work)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, NotFound
from arc_reporting.views.student import OutcomeDetail, outcome_detail

CONSUMED = ("catalog", "evidence", "mastery")


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


def report_of(detail: OutcomeDetail) -> reporting_pb2.StudentOutcomeReport:
    reply = reporting_pb2.StudentOutcomeReport(
        student_id=detail.student_id,
        outcome_id=detail.outcome_id,
        outcome_code=detail.code,
        outcome_statement=detail.statement,
        level_label=detail.line.level_label or "",
        mastered=detail.line.status == "mastered",
        attempts=[
            reporting_pb2.AttemptPoint(
                attempt_id=a.attempt_id,
                score=float(a.score or 0),
                assessed_at=timestamp(a.assessed_at),
                recorded_by=a.recorded_by,
            )
            for a in detail.attempts
        ],
    )
    if detail.line.value is not None:
        reply.has_level = True
        reply.level = float(detail.line.value)
    for change in detail.changes:
        item = reply.changes.add(
            mastered=change.status == "mastered",
            method=change.method,
            triggered_by_attempt_id=change.attempt_id or "",
            changed_at=timestamp(change.changed_at),
        )
        if change.value is not None:
            item.has_level, item.level = True, float(change.value)
        if change.before_value is not None:
            item.has_previous_level = True
            item.previous_level = float(change.before_value)
    return reply


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, model: ReportingReadModel, config: Config | None = None) -> None:
        self.model = model
        self.config = config or Config()

    async def GetStudentOutcome(
        self, request: reporting_pb2.GetStudentOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.StudentOutcomeReport:
        missing = [
            FieldViolation(name, "required")
            for name in ("student_id", "outcome_id")
            if not getattr(request, name)
        ]
        if missing:
            await abort_with(context, missing)
        try:
            detail = await asyncio.to_thread(
                outcome_detail,
                self.model,
                self.config,
                request.student_id,
                request.outcome_id,
                None,
            )
        except NotFound as exc:
            await abort_with(
                context, [FieldViolation(exc.field, exc.message)], grpc.StatusCode.NOT_FOUND
            )
            raise
        return report_of(detail)

    async def GetProjectionStatus(
        self, request: reporting_pb2.ProjectionStatusRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ProjectionStatus:
        return reporting_pb2.ProjectionStatus(
            positions=[
                reporting_pb2.StreamPosition(stream=key, position=position)
                for key, position in sorted(self.model.view.positions().items())
            ]
        )
