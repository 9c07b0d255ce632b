"""gRPC adapter of mastery: parse, ask the application, shape the reply. ``ACCESS_RULES`` says
what kind of request each method is (``arc_platform.auth.policy``): a method without a rule is
refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.mastery.v1 import mastery_pb2, mastery_pb2_grpc
from arc_contracts import stream_name
from arc_mastery.application import (
    MasteryApplication,
    UnknownScope,
    course_rollup,
    parent_rollup,
)
from arc_mastery.rollups import RollUp
from arc_mastery.standing import Explanation, Standing
from arc_platform.auth import GrpcRule, ReadOperations, ReadStudent
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_platform.partitions import partition_position_key

CONSUMED = ("catalog", "evidence")
SERVICE = "/arc.mastery.v1.MasteryService"

ACCESS_RULES: dict[str, GrpcRule] = {
    f"{SERVICE}/GetMastery": lambda request: ReadStudent(request.student_id),
    f"{SERVICE}/Explain": lambda request: ReadStudent(request.student_id),
    f"{SERVICE}/GetCourseMastery": lambda request: ReadStudent(request.student_id),
    f"{SERVICE}/GetParentMastery": lambda request: ReadStudent(request.student_id),
    f"{SERVICE}/GetProjectionStatus": lambda _request: ReadOperations(),
}


def text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


def standing_message(standing: Standing) -> mastery_pb2.Standing:
    return mastery_pb2.Standing(
        has_value=standing.value is not None,
        value=text(standing.value),
        has_level=standing.level is not None,
        level=text(standing.level.value) if standing.level else "",
        level_label=standing.level.label if standing.level else "",
        status=standing.status,
        evidence_count=standing.evidence_count,
    )


def explanation_message(
    student_id: str, outcome_id: str, explanation: Explanation
) -> mastery_pb2.Explanation:
    reply = mastery_pb2.Explanation(
        student_id=student_id,
        outcome_id=outcome_id,
        standing=standing_message(explanation.standing),
        method=explanation.method,
        params=explanation.params,
        policy_id=explanation.policy_id or "",
        policy_revision=explanation.policy_revision or 0,
        summary=explanation.standing.explanation,
    )
    for counted in explanation.counted:
        reply.counted.add(
            attempt_id=counted.evidence.attempt_id,
            score=text(counted.evidence.score),
            assessed_at=timestamp(counted.evidence.assessed_at),
            recorded_at=timestamp(counted.evidence.recorded_at),
            has_contribution=counted.contribution is not None,
            contribution=text(counted.contribution),
        )
    for excluded in explanation.excluded:
        reply.excluded.add(
            attempt_id=excluded.evidence.attempt_id,
            reason=excluded.reason,
            assessed_at=timestamp(excluded.evidence.assessed_at),
        )
    return reply


def rollup_message(rollup: RollUp) -> mastery_pb2.RollUp:
    return mastery_pb2.RollUp(
        rule=rollup.rule,
        has_value=rollup.value is not None,
        value=text(rollup.value),
        mastered=rollup.mastered,
        counted=rollup.counted,
        of=rollup.of,
        explanation=rollup.explanation,
    )


def optional_time(request: mastery_pb2.ExplainRequest, field: str) -> datetime | None:
    if not request.HasField(field):  # type: ignore[arg-type]
        return None
    stamp: Timestamp = getattr(request, field)
    return stamp.ToDatetime(tzinfo=UTC)


class MasteryServicer(mastery_pb2_grpc.MasteryServiceServicer):
    def __init__(self, app: MasteryApplication) -> None:
        self.app = app

    async def GetMastery(
        self, request: mastery_pb2.GetMasteryRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.Mastery:
        found = self.app.find_mastery(request.student_id, request.outcome_id)
        reply = mastery_pb2.Mastery(student_id=request.student_id, outcome_id=request.outcome_id)
        if found is None:
            reply.standing.status = "no_evidence"
            return reply
        standing = found.standing
        reply.attempt_ids.extend(found.attempt_ids())
        reply.standing.CopyFrom(standing_message(standing))
        reply.mastered = standing.status == "mastered"
        if standing.value is not None:
            reply.has_level, reply.level = True, float(standing.value)
        explanation = self.app.explanation(request.student_id, request.outcome_id)
        reply.method = explanation.method if explanation else ""
        return reply

    async def Explain(
        self, request: mastery_pb2.ExplainRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.Explanation:
        explanation = self.app.explanation(
            request.student_id,
            request.outcome_id,
            as_known_at=optional_time(request, "as_known_at"),
            as_assessed_by=optional_time(request, "as_assessed_by"),
        )
        if explanation is None:
            await abort_with(
                context,
                [FieldViolation("outcome_id", "no evidence for this student on this outcome")],
                grpc.StatusCode.NOT_FOUND,
            )
            raise AssertionError("unreachable")
        return explanation_message(request.student_id, request.outcome_id, explanation)

    async def GetCourseMastery(
        self, request: mastery_pb2.RollUpRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.RollUp:
        try:
            return rollup_message(course_rollup(self.app, request.student_id, request.course_id))
        except UnknownScope as exc:
            await abort_with(
                context, [FieldViolation(exc.field, exc.description)], grpc.StatusCode.NOT_FOUND
            )
            raise AssertionError("unreachable") from exc

    async def GetParentMastery(
        self, request: mastery_pb2.RollUpRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.RollUp:
        try:
            return rollup_message(parent_rollup(self.app, request.student_id, request.outcome_id))
        except UnknownScope as exc:
            await abort_with(
                context, [FieldViolation(exc.field, exc.description)], grpc.StatusCode.NOT_FOUND
            )
            raise AssertionError("unreachable") from exc

    async def GetProjectionStatus(
        self, request: mastery_pb2.ProjectionStatusRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.ProjectionStatus:
        """Positions per stream and partition, e.g. ``ARC_EVIDENCE.p3``."""
        keys = [
            partition_position_key(stream_name(context), partition)
            for partition in range(self.app.partitions)
            for context in CONSUMED
        ]
        return mastery_pb2.ProjectionStatus(
            positions=[
                mastery_pb2.StreamPosition(stream=key, position=self.app.position(key))
                for key in keys
            ]
        )
