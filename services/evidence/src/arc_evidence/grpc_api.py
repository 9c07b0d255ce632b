"""gRPC adapter of evidence: parse, call the application, name fields, map errors. No evidence
rules here. ``ACCESS_RULES`` says what kind of request each method is
(``arc_platform.auth.policy``; a method without a rule is refused): entering, voiding or
correcting evidence is recording evidence for that student (in the batch's section when it
names one; every row's student must be the caller's); reading attempts is reading the student's
records. ``recorded_by`` / ``voided_by`` must be the caller (empty: the caller), except for a
network administrator (:mod:`arc_evidence.authorship`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import grpc

from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc_evidence.application import Contention, Correction, EvidenceApplication, Written
from arc_evidence.authorship import NotTheCaller, recorder
from arc_evidence.grpc_messages import (
    CODES,
    Parser,
    attempt_message,
    batch_drafts,
    batch_name,
    item_name,
    single_draft,
    unique,
)
from arc_evidence.rules import Problem, Rejected
from arc_platform.auth import AccessRequest, GrpcRule, ReadStudent, RecordEvidence
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_platform.limits import Limits
from arc_platform.telemetry import current_traceparent

T = TypeVar("T")
pb = evidence_pb2
SERVICE = "/arc.evidence.v1.EvidenceService"


def _batch(request: pb.RecordBatchRequest) -> list[AccessRequest]:
    """Every row's student, in the batch's section when it names one. A batch without rows is
    decided as one for nobody: only a network administrator gets past, to hear it is empty."""
    section = request.section_id or None
    students = [row.student_id.strip() for row in request.rows] or [""]
    return [RecordEvidence(student, section) for student in students]


ACCESS_RULES: dict[str, GrpcRule] = {
    f"{SERVICE}/RecordAttempt": lambda request: RecordEvidence(request.student_id.strip()),
    f"{SERVICE}/RecordBatch": _batch,
    f"{SERVICE}/VoidAttempt": lambda request: RecordEvidence(request.student_id),
    f"{SERVICE}/SupersedeAttempt": lambda request: RecordEvidence(request.student_id),
    f"{SERVICE}/ListAttempts": lambda request: ReadStudent(request.student_id),
}


class EvidenceServicer(evidence_pb2_grpc.EvidenceServiceServicer):
    def __init__(
        self,
        app: EvidenceApplication,
        on_recorded: Callable[[], None],
        max_batch_rows: int | None = None,
    ) -> None:
        self.app = app
        self.on_recorded = on_recorded
        self.max_batch_rows = max_batch_rows or Limits().max_batch_items

    async def _call(
        self,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
        use_case: Callable[[], T],
        name: Callable[[Problem], str],
    ) -> T:
        try:
            result = await asyncio.to_thread(use_case)
        except Rejected as exc:
            violations = unique(FieldViolation(name(p), p.description) for p in exc.problems)
            await abort_with(context, violations, CODES[exc.kind])
            raise AssertionError("unreachable") from exc
        except Contention as exc:
            await context.abort(grpc.StatusCode.ABORTED, str(exc))
            raise AssertionError("unreachable") from exc
        if isinstance(result, Written) and not result.replayed:
            self.on_recorded()
        return result

    async def _refuse(
        self,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
        parser: Parser,
    ) -> None:
        if parser.violations:
            await abort_with(context, unique(parser.violations))

    async def _recorder(
        self,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
        named: str,
        field: str = "recorded_by",
    ) -> str:
        """The caller, who is the recorder (see :mod:`arc_evidence.authorship`)."""
        try:
            return recorder(named, field)
        except NotTheCaller as exc:
            violation = FieldViolation(exc.field, exc.description)
            await abort_with(context, [violation], grpc.StatusCode.PERMISSION_DENIED)
            raise AssertionError("unreachable") from exc

    async def RecordAttempt(
        self, request: pb.RecordAttemptRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordAttemptResponse:
        request.recorded_by = await self._recorder(context, request.recorded_by)
        parser = Parser()
        draft = single_draft(request, parser)
        await self._refuse(context, parser)
        written = await self._call(
            context,
            lambda: self.app.record(
                draft,
                idempotency_key=request.idempotency_key or None,
                traceparent=current_traceparent(),
            ),
            lambda p: item_name(p, multi=bool(request.scores)),
        )
        ids = written.attempt_ids[0]
        return pb.RecordAttemptResponse(
            attempt_id=ids[0], attempt_ids=ids, position=written.position, replayed=written.replayed
        )

    async def RecordBatch(
        self, request: pb.RecordBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordBatchResponse:
        if len(request.rows) > self.max_batch_rows:  # refused whole, like a bad field
            too_many = f"{len(request.rows)} rows; the limit is {self.max_batch_rows}"
            await abort_with(context, [FieldViolation("rows", too_many)])
        request.recorded_by = await self._recorder(context, request.recorded_by)
        parser = Parser()
        drafts = batch_drafts(request, parser)
        await self._refuse(context, parser)
        written = await self._call(
            context,
            lambda: self.app.record_batch(
                drafts,
                section_id=request.section_id or None,
                idempotency_key=request.idempotency_key or None,
                traceparent=current_traceparent(),
            ),
            lambda p: batch_name(p, request),
        )
        return pb.RecordBatchResponse(
            rows=[
                pb.RecordedRow(student_id=draft.student_id.strip(), attempt_ids=ids)
                for draft, ids in zip(drafts, written.attempt_ids, strict=True)
            ],
            position=written.position,
            replayed=written.replayed,
        )

    async def VoidAttempt(
        self, request: pb.VoidAttemptRequest, context: grpc.aio.ServicerContext
    ) -> pb.VoidAttemptResponse:
        request.voided_by = await self._recorder(context, request.voided_by, "voided_by")
        written = await self._call(
            context,
            lambda: self.app.void(
                request.student_id,
                request.attempt_id,
                request.reason,
                request.voided_by,
                idempotency_key=request.idempotency_key or None,
                traceparent=current_traceparent(),
            ),
            lambda p: p.field,
        )
        return pb.VoidAttemptResponse(position=written.position, replayed=written.replayed)

    async def SupersedeAttempt(
        self, request: pb.SupersedeAttemptRequest, context: grpc.aio.ServicerContext
    ) -> pb.SupersedeAttemptResponse:
        request.recorded_by = await self._recorder(context, request.recorded_by)
        parser = Parser()
        correction = Correction(
            reason=request.reason,
            recorded_by=request.recorded_by,
            status=parser.status("status", request.status),
            score=parser.decimal("score", request.score),
            assessed_at=parser.when(request, "assessed_at"),
            comment=request.comment or None,
        )
        await self._refuse(context, parser)
        written = await self._call(
            context,
            lambda: self.app.supersede(
                request.student_id,
                request.attempt_id,
                correction,
                idempotency_key=request.idempotency_key or None,
                traceparent=current_traceparent(),
            ),
            lambda p: item_name(p, multi=False),
        )
        return pb.SupersedeAttemptResponse(
            attempt_id=written.attempt_ids[0][0],
            position=written.position,
            replayed=written.replayed,
        )

    async def ListAttempts(
        self, request: pb.ListAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAttemptsResponse:
        parser = Parser()
        history = await asyncio.to_thread(
            self.app.student_history,
            request.student_id,
            request.outcome_id or None,
            parser.when(request, "assessed_from"),
            parser.when(request, "assessed_until"),
            request.include_voided,
        )
        return pb.ListAttemptsResponse(attempts=[attempt_message(s) for s in history])
