"""Gradebooks and scripts record evidence over gRPC (a real evidence process, roster checking
left at its default: off). The original one-outcome RecordAttempt keeps working."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from arc.evidence.v1 import evidence_pb2 as pb
from arc.evidence.v1 import evidence_pb2_grpc
from arc_contracts import AttemptRecordedV1
from arc_platform.grpc_server import field_violations
from tests.support.evidence import (
    PERCENT,
    define_catalog,
    http_url,
    outcome_defined,
    published_evidence,
    wait_for_http,
)
from tests.support.stack import Stack, attempt, timestamp

LAST_WEEK = datetime.now(UTC) - timedelta(days=7)


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start("evidence")
    yield running
    running.stop()


@pytest.fixture
async def evidence(
    stack: Stack, nats_url: str
) -> AsyncIterator[evidence_pb2_grpc.EvidenceServiceStub]:
    await wait_for_http(http_url(stack.processes))
    await define_catalog(
        nats_url,
        http_url(stack.processes),
        outcome_defined("sci.1"),
        outcome_defined("sci.pct", PERCENT),
        token=stack.token(),
    )
    async with stack.channel("evidence") as channel:
        yield evidence_pb2_grpc.EvidenceServiceStub(channel)


async def refused(call: object) -> tuple[grpc.StatusCode, list[tuple[str, str]]]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    return error.value.code(), field_violations(error.value)


async def test_the_original_record_attempt_still_records_one_outcome(
    evidence: evidence_pb2_grpc.EvidenceServiceStub, nats_url: str
) -> None:
    reply = await evidence.RecordAttempt(attempt("never-defined-student", "sci.1", 3, LAST_WEEK))
    assert reply.attempt_ids == [reply.attempt_id] and reply.position > 0
    [event] = await published_evidence(nats_url, 1)
    assert isinstance(event, AttemptRecordedV1)
    assert (event.student_id, event.score, event.status) == (
        "never-defined-student",
        Decimal(3),
        "scored",
    )
    code, fields = await refused(evidence.RecordAttempt(attempt("s", "nope", 7)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [("outcome_id", "unknown outcome 'nope'")]


async def test_one_item_scores_several_outcomes_and_names_each_bad_score(
    evidence: evidence_pb2_grpc.EvidenceServiceStub,
) -> None:
    request = pb.RecordAttemptRequest(
        student_id="stu-1",
        scores=[
            pb.OutcomeScore(outcome_id="sci.1", score="4"),
            pb.OutcomeScore(outcome_id="sci.pct", score="92.5"),
        ],
        assessed_at=timestamp(LAST_WEEK),
        recorded_by="t-ada",
        assessment_kind=pb.ASSESSMENT_KIND_SELF_ASSESSMENT,
        tags=["reflection"],
        idempotency_key="item-1",
    )
    reply = await evidence.RecordAttempt(request)
    assert len(reply.attempt_ids) == 2
    again = await evidence.RecordAttempt(request)
    assert again.replayed and list(again.attempt_ids) == list(reply.attempt_ids)
    history = await evidence.ListAttempts(pb.ListAttemptsRequest(student_id="stu-1"))
    assert [(a.outcome_id, a.score_text) for a in history.attempts] == [
        ("sci.1", "4"),
        ("sci.pct", "92.5"),
    ]
    assert list(history.attempts[0].tags) == ["reflection", "self_assessment"]
    bad = pb.RecordAttemptRequest(
        student_id="stu-1",
        scores=[pb.OutcomeScore(outcome_id="sci.1", score="four"), pb.OutcomeScore()],
        recorded_by="t-ada",
    )
    code, fields = await refused(evidence.RecordAttempt(bad))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [("scores[0].score", "'four' is not a decimal number")]
    bad.scores[0].score = "4"
    _, fields = await refused(evidence.RecordAttempt(bad))
    assert [f for f, _ in fields] == ["scores[1].outcome_id", "scores[1].score", "assessed_at"]


async def test_a_class_batch_is_all_or_nothing_and_names_rows(
    evidence: evidence_pb2_grpc.EvidenceServiceStub,
) -> None:
    def row(student: str, score: str) -> pb.BatchRow:
        return pb.BatchRow(
            student_id=student, scores=[pb.OutcomeScore(outcome_id="sci.1", score=score)]
        )

    batch = pb.RecordBatchRequest(
        recorded_by="t-ada",
        assessed_at=timestamp(LAST_WEEK),
        assessment_ref="lab-2",
        rows=[row("stu-1", "3"), row("stu-2", "0"), row("stu-3", "2"), row("", "5")],
    )
    code, fields = await refused(evidence.RecordBatch(batch))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in fields] == [
        "rows[1].scores[0].score",
        "rows[3].student_id",
        "rows[3].scores[0].score",
    ]
    assert not (await evidence.ListAttempts(pb.ListAttemptsRequest(student_id="stu-1"))).attempts
    del batch.rows[1]
    del batch.rows[2]
    reply = await evidence.RecordBatch(batch)
    assert [r.student_id for r in reply.rows] == ["stu-1", "stu-3"]


async def test_void_and_supersede_leave_the_history_complete(
    evidence: evidence_pb2_grpc.EvidenceServiceStub,
) -> None:
    first = await evidence.RecordAttempt(attempt("stu-1", "sci.1", 2, LAST_WEEK))
    second = await evidence.RecordAttempt(attempt("stu-1", "sci.1", 3, LAST_WEEK))
    code, fields = await refused(
        evidence.VoidAttempt(pb.VoidAttemptRequest(student_id="stu-1", attempt_id=first.attempt_id))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in fields] == ["reason"]  # voided_by left empty: the caller
    await evidence.VoidAttempt(
        pb.VoidAttemptRequest(
            student_id="stu-1", attempt_id=first.attempt_id, reason="duplicate", voided_by="t-ada"
        )
    )
    code, _ = await refused(
        evidence.VoidAttempt(
            pb.VoidAttemptRequest(
                student_id="stu-1", attempt_id=first.attempt_id, reason="x", voided_by="t"
            )
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    fixed = await evidence.SupersedeAttempt(
        pb.SupersedeAttemptRequest(
            student_id="stu-1",
            attempt_id=second.attempt_id,
            status=pb.ATTEMPT_STATUS_EXCUSED,
            reason="was absent, entered by mistake",
            recorded_by="t-ada",
        )
    )
    current = await evidence.ListAttempts(pb.ListAttemptsRequest(student_id="stu-1"))
    assert [(a.attempt_id, a.status, a.score_text) for a in current.attempts] == [
        (fixed.attempt_id, pb.ATTEMPT_STATUS_EXCUSED, "")
    ]
    everything = await evidence.ListAttempts(
        pb.ListAttemptsRequest(student_id="stu-1", include_voided=True, outcome_id="sci.1")
    )
    assert [(a.voided, a.void_reason, a.superseded_by) for a in everything.attempts] == [
        (True, "duplicate", ""),
        (False, "", fixed.attempt_id),
        (False, "", ""),
    ]
    assert everything.attempts[2].supersedes == second.attempt_id
    none = await evidence.ListAttempts(
        pb.ListAttemptsRequest(
            student_id="stu-1", include_voided=True, assessed_until=timestamp(LAST_WEEK)
        )
    )
    assert list(none.attempts) == []
