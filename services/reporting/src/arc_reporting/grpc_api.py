"""gRPC adapter of reporting."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from arc_reporting.read_model import ReportingReadModel

CONSUMED = ("catalog", "evidence", "mastery")


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, model: ReportingReadModel) -> None:
        self.model = model

    async def GetStudentOutcome(
        self, request: reporting_pb2.GetStudentOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.StudentOutcomeReport:
        report = self.model.student_outcome(request.student_id, request.outcome_id)
        reply = reporting_pb2.StudentOutcomeReport(
            student_id=report.student_id,
            outcome_id=report.outcome_id,
            outcome_code=report.outcome_code,
            outcome_statement=report.outcome_statement,
            level_label=report.level_label,
            mastered=report.mastered,
            attempts=[
                reporting_pb2.AttemptPoint(
                    attempt_id=a.attempt_id,
                    score=float(a.score),
                    assessed_at=timestamp(a.assessed_at),
                    recorded_by=a.recorded_by,
                )
                for a in report.attempts
            ],
        )
        if report.level is not None:
            reply.has_level = True
            reply.level = float(report.level)
        for change in report.changes:
            item = reply.changes.add(
                mastered=change.mastered,
                method=change.method,
                triggered_by_attempt_id=change.triggered_by_attempt_id,
                changed_at=timestamp(change.changed_at),
            )
            if change.level is not None:
                item.has_level, item.level = True, float(change.level)
            if change.previous_level is not None:
                item.has_previous_level = True
                item.previous_level = float(change.previous_level)
        return reply

    async def GetProjectionStatus(
        self, request: reporting_pb2.ProjectionStatusRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ProjectionStatus:
        return reporting_pb2.ProjectionStatus(
            positions=[
                reporting_pb2.StreamPosition(stream=key, position=position)
                for key, position in sorted(self.model.view.positions().items())
            ]
        )
