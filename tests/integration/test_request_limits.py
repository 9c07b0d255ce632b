"""Oversized requests are refused whole, with the limit named, and write nothing: bodies over
the configured size (declared or streamed), batches with too many rows or statements, CSV
uploads with too many lines (HTTP 413), and gRPC messages over the server's limit
(RESOURCE_EXHAUSTED). The limits here are made small so that the tests stay quick."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from arc.evidence.v1 import evidence_pb2 as pb
from arc.evidence.v1 import evidence_pb2_grpc
from arc_evidence.grpc_api import ACCESS_RULES, EvidenceServicer
from arc_platform.auth.client import bearer_interceptors
from arc_platform.grpc_server import field_violations, start_server
from arc_platform.limits import Limits
from tests.support.in_process import SERVICES, InProcess, in_process

SMALL = Limits(max_request_bytes=2_000, max_upload_bytes=8_000, max_batch_items=3, max_csv_rows=4)
SCORE = {"outcome_id": "sci.1", "score": 3}
ATTEMPT = {"student_id": "stu-1", "scores": [SCORE], "assessed_at": "2026-09-01T10:00:00Z"}
XAPI = {"X-Experience-API-Version": "1.0.3"}


@pytest.fixture
def evidence(tmp_path: Path) -> Iterator[InProcess]:
    with in_process("evidence", tmp_path, SMALL) as service:
        yield service


def client(service: InProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app),
        base_url="http://arc",
        headers=service.headers("admin"),
    )


def batch(rows: int) -> dict[str, Any]:
    students = [{"student_id": f"stu-{n}", "scores": [SCORE]} for n in range(rows)]
    return {"assessed_at": "2026-09-01T10:00:00Z", "rows": students}


async def test_a_body_over_the_limit_is_refused_with_413_naming_it(evidence: InProcess) -> None:
    padded = ATTEMPT | {"comment": "x" * 3_000}
    async with client(evidence) as http:
        reply = await http.post("/api/v1/attempts", json=padded)
    assert reply.status_code == 413
    size = len(json.dumps(padded, separators=(",", ":")))
    why = f"request body is {size} bytes; the limit is 2000 bytes"
    assert reply.json() == {
        "detail": why,
        "violations": [{"field": "body", "description": why}],
        "limit": 2000,
    }
    assert evidence.position() == 0


async def test_a_streamed_body_without_a_length_is_counted_and_refused(
    evidence: InProcess,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"student_id": "stu-1", "comment": "'
        for _ in range(5):
            yield b"y" * 1_000
        yield b'", "scores": [{"outcome_id": "sci.1", "score": 3}]}'

    async with client(evidence) as http:
        reply = await http.post(
            "/api/v1/attempts", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert "content-length" not in reply.request.headers
    assert reply.status_code == 413
    assert reply.json()["detail"].endswith("; the limit is 2000 bytes")
    assert reply.json()["detail"].startswith("request body is at least ")
    assert evidence.position() == 0


async def test_a_body_under_the_limit_still_gets_through(evidence: InProcess) -> None:
    async with client(evidence) as http:
        reply = await http.post("/api/v1/attempts", json=ATTEMPT | {"comment": "x" * 1_000})
    assert reply.status_code == 201, reply.text
    assert evidence.position() == reply.json()["position"]
    assert reply.json()["position"] > 0


async def test_uploads_may_be_larger_up_to_their_own_limit(evidence: InProcess) -> None:
    header = "student_id,sci.1,comment\n"
    roomy = header + "".join(f"stu-{n},3,{'z' * 700}\n" for n in range(4))  # ≈ 2.9 kB
    huge = header + "stu-1,3," + "z" * 9_000 + "\n"
    async with client(evidence) as http:
        gradebook = "/api/v1/imports/gradebook?assessed_at=2026-09-01T10:00:00Z"
        accepted = await http.post(gradebook, content=roomy)
        refused = await http.post(gradebook, content=huge)
    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 413
    assert "the limit is 8000 bytes" in refused.json()["detail"]


async def test_a_batch_with_too_many_rows_is_refused_whole(evidence: InProcess) -> None:
    async with client(evidence) as http:
        refused = await http.post("/api/v1/attempts/batch", json=batch(4))
        accepted = await http.post("/api/v1/attempts/batch", json=batch(3))
    assert refused.status_code == 413
    assert refused.json()["violations"] == [
        {"field": "rows", "description": "4 rows; the limit is 3"}
    ]
    assert accepted.status_code == 201
    assert evidence.position() == accepted.json()["position"]
    assert len(evidence.backend.student_history("stu-3", None, None, None, False)) == 0


async def test_a_gradebook_with_too_many_lines_is_refused_whole(evidence: InProcess) -> None:
    rows = "".join(f"stu-{n},3\n" for n in range(5))
    async with client(evidence) as http:
        reply = await http.post(
            "/api/v1/imports/gradebook?assessed_at=2026-09-01T10:00:00Z",
            content="student_id,sci.1\n" + rows,
        )
    assert reply.status_code == 413
    assert reply.json()["violations"] == [
        {"field": "body", "description": "5 lines; the limit is 4"}
    ]
    assert evidence.position() == 0


async def test_an_xapi_list_with_too_many_statements_is_refused_whole(
    evidence: InProcess,
) -> None:
    statement = {
        "actor": {"account": {"homePage": "https://sis.example", "name": "stu-1"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": "https://arc.example/outcomes/sci.1"},
        "result": {"score": {"raw": 3}},
    }
    async with client(evidence) as http:
        reply = await http.post(
            "/xapi/statements", json=[statement] * 4, headers=XAPI | evidence.headers("tool")
        )
    assert reply.status_code == 413
    assert reply.json()["violations"] == [
        {"field": "body", "description": "4 statements; the limit is 3"}
    ]
    assert evidence.position() == 0


#: a route of each service that takes a body (mastery takes none: any path will do)
WRITES = {
    "catalog": "/api/v1/outcomes",
    "evidence": "/api/v1/attempts/batch",
    "mastery": "/api/v1/students/stu-1/courses/c1",
    "reporting": "/api/v1/sections/sec-6a/evidence",
}


@pytest.mark.parametrize("name", SERVICES)
async def test_every_service_refuses_an_oversized_body(name: str, tmp_path: Path) -> None:
    with in_process(name, tmp_path, SMALL) as service:
        before = service.position()
        async with client(service) as http:
            reply = await http.post(WRITES[name], content=b"{" + b" " * 5_000 + b"}")
        assert reply.status_code == 413
        assert reply.json()["limit"] == 2000
        assert service.position() == before


# --- gRPC ------------------------------------------------------------------------------------


def grpc_batch(rows: int, comment: str = "") -> pb.RecordBatchRequest:
    assessed = Timestamp()
    assessed.FromJsonString("2026-09-01T10:00:00Z")
    return pb.RecordBatchRequest(
        assessed_at=assessed,
        rows=[
            pb.BatchRow(
                student_id=f"stu-{n}",
                scores=[pb.OutcomeScore(outcome_id="sci.1", score="3")],
                comment=comment,
            )
            for n in range(rows)
        ],
    )


async def test_grpc_refuses_too_many_rows_and_oversized_messages(evidence: InProcess) -> None:
    servicer = EvidenceServicer(evidence.backend, lambda: None, max_batch_rows=3)
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, s)],
        ["arc.evidence.v1.EvidenceService"],
        interceptors=[evidence.access.grpc(ACCESS_RULES)],
        max_message_bytes=4_000,
    )
    token = evidence.headers("admin")["Authorization"].removeprefix("Bearer ")
    try:
        target = f"127.0.0.1:{port}"
        async with grpc.aio.insecure_channel(target, interceptors=bearer_interceptors(token)) as c:
            stub = evidence_pb2_grpc.EvidenceServiceStub(c)
            with pytest.raises(grpc.aio.AioRpcError) as too_many:
                await stub.RecordBatch(grpc_batch(4))
            with pytest.raises(grpc.aio.AioRpcError) as too_large:
                await stub.RecordBatch(grpc_batch(2, comment="x" * 5_000))
            assert evidence.position() == 0
            accepted = await stub.RecordBatch(grpc_batch(3))
    finally:
        await server.stop(None)
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(too_many.value) == [("rows", "4 rows; the limit is 3")]
    assert too_large.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert evidence.position() == accepted.position > 0
