"""gRPC adapter of the catalog: parse, call the application, map errors. No rules here."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import grpc

from arc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from arc_catalog.application import CatalogApplication
from arc_catalog.domain import InvalidDefinition, Outcome, ProficiencyScale, ScaleLevel
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_platform.telemetry import current_traceparent


def scale_from_message(message: catalog_pb2.ProficiencyScale) -> ProficiencyScale:
    return ProficiencyScale(
        name=message.name or "default",
        levels=tuple(
            ScaleLevel(Decimal(str(level.value)), level.label) for level in message.levels
        ),
        mastery_threshold=Decimal(str(message.mastery_threshold)),
    )


def outcome_message(outcome: Outcome) -> catalog_pb2.Outcome:
    scale = ProficiencyScale.from_primitive(outcome.scale)
    return catalog_pb2.Outcome(
        outcome_id=outcome.outcome_id,
        code=outcome.code,
        statement=outcome.statement,
        revision=outcome.revision,
        scale=catalog_pb2.ProficiencyScale(
            name=scale.name,
            levels=[
                catalog_pb2.ScaleLevel(value=float(level.value), label=level.label)
                for level in scale.levels
            ],
            mastery_threshold=float(scale.mastery_threshold),
        ),
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, app: CatalogApplication, on_recorded: Callable[[], None]) -> None:
        self.app = app
        self.on_recorded = on_recorded

    async def DefineOutcome(
        self, request: catalog_pb2.DefineOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.DefineOutcomeResponse:
        try:
            if not request.HasField("scale"):
                raise InvalidDefinition("scale", "an outcome needs a proficiency scale")
            defined = self.app.define_outcome(
                outcome_id=request.outcome_id,
                code=request.code,
                statement=request.statement,
                scale=scale_from_message(request.scale),
                traceparent=current_traceparent(),
            )
        except InvalidDefinition as exc:
            await abort_with(context, [FieldViolation(exc.field, exc.description)])
            raise  # unreachable: abort raises
        if defined.position is not None:
            self.on_recorded()
        return catalog_pb2.DefineOutcomeResponse(
            outcome_id=defined.outcome.outcome_id,
            revision=defined.outcome.revision,
            position=defined.position or 0,
        )

    async def GetOutcome(
        self, request: catalog_pb2.GetOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.Outcome:
        outcome = self.app.find_outcome(request.outcome_id)
        if outcome is None:
            await abort_with(
                context,
                [FieldViolation("outcome_id", f"no outcome {request.outcome_id!r}")],
                grpc.StatusCode.NOT_FOUND,
            )
            raise AssertionError("unreachable")
        return outcome_message(outcome)
