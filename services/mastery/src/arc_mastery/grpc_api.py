"""gRPC adapter of mastery."""

from __future__ import annotations

import grpc

from arc.mastery.v1 import mastery_pb2, mastery_pb2_grpc
from arc_contracts import stream_name
from arc_mastery.application import MasteryApplication
from arc_mastery.domain import StudentOutcomeMastery

CONSUMED = ("catalog", "evidence")


class MasteryServicer(mastery_pb2_grpc.MasteryServiceServicer):
    def __init__(self, app: MasteryApplication) -> None:
        self.app = app

    async def GetMastery(
        self, request: mastery_pb2.GetMasteryRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.Mastery:
        found = self.app.find_mastery(request.student_id, request.outcome_id)
        reply = mastery_pb2.Mastery(
            student_id=request.student_id,
            outcome_id=request.outcome_id,
            method=StudentOutcomeMastery.METHOD,
        )
        if found is not None:
            reply.attempt_ids.extend(found.attempt_ids)
            reply.mastered = found.mastered
            if found.level is not None:
                reply.has_level = True
                reply.level = float(found.level)
        return reply

    async def GetProjectionStatus(
        self, request: mastery_pb2.ProjectionStatusRequest, context: grpc.aio.ServicerContext
    ) -> mastery_pb2.ProjectionStatus:
        return mastery_pb2.ProjectionStatus(
            positions=[
                mastery_pb2.StreamPosition(
                    stream=stream_name(c), position=self.app.position(stream_name(c))
                )
                for c in CONSUMED
            ]
        )
