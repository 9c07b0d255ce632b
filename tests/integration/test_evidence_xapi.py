"""A quiz tool sends xAPI 1.0.3 statements to evidence's Statements resource (a real evidence
process): aligned statements become attempts on the bus, the rest are stored and reported."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1
from arc_evidence.xapi import OUTCOME_EXTENSION
from tests.support.evidence import (
    PERCENT,
    define_catalog,
    evidence_stream_length,
    http_url,
    outcome_defined,
    published_evidence,
    wait_for_http,
)
from tests.support.stack import Stack

XAPI = {"X-Experience-API-Version": "1.0.3"}
QUIZ = "https://quiz.example/activities/percentages-1"
CASE = "https://case.example/uri/6.RP.3c"


def scored(student: str, raw: float | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "actor": {"account": {"homePage": "https://sis.example", "name": student}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": QUIZ},
        "result": {"score": {"raw": raw, "min": 0, "max": 100}} if raw is not None else {},
        "timestamp": "2026-01-15T10:00:00Z",
    } | extra


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start("evidence")
    yield running
    running.stop()


@pytest.fixture
async def lrs(stack: Stack, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    base = http_url(stack.processes)
    await wait_for_http(base)
    await define_catalog(
        nats_url,
        base,
        outcome_defined("math.pct", PERCENT, case_uri=QUIZ),
        outcome_defined("math.rp.3"),
        token=stack.token(),
    )
    # The quiz tool's client: its token carries the role ``tool``.
    tool = {"Authorization": f"Bearer {stack.token('tool')}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=tool) as client:
        yield client


async def test_statements_need_the_version_header_and_every_answer_carries_it(
    lrs: httpx.AsyncClient,
) -> None:
    missing = await lrs.post("/xapi/statements", json=scored("stu-1", 80))
    assert missing.status_code == 400
    assert missing.headers["X-Experience-API-Version"] == "1.0.3"
    about = await lrs.get("/xapi/about")
    assert about.json() == {"version": ["1.0.3"]}


async def test_an_aligned_statement_becomes_an_attempt_and_stays_retrievable(
    lrs: httpx.AsyncClient, nats_url: str
) -> None:
    statement_id = str(uuid.uuid4())
    put = await lrs.put(
        "/xapi/statements",
        params={"statementId": statement_id},
        json=scored("stu-1", 87.5),
        headers=XAPI,
    )
    assert put.status_code == 204 and put.headers["X-Experience-API-Version"] == "1.0.3"
    again = await lrs.put(
        "/xapi/statements",
        params={"statementId": statement_id},
        json=scored("stu-1", 87.5),
        headers=XAPI,
    )
    assert again.status_code == 204
    different = await lrs.put(
        "/xapi/statements",
        params={"statementId": statement_id},
        json=scored("stu-1", 90),
        headers=XAPI,
    )
    assert different.status_code == 409
    got = await lrs.get("/xapi/statements", params={"statementId": statement_id}, headers=XAPI)
    assert got.status_code == 200
    assert got.json()["id"] == statement_id and got.json()["result"]["score"]["raw"] == 87.5
    assert got.json()["stored"] and got.json()["authority"]["objectType"] == "Agent"
    [event] = await published_evidence(nats_url, 1)
    assert isinstance(event, AttemptRecordedV1)
    assert (event.student_id, event.outcome_id, event.score) == (
        "stu-1",
        "math.pct",
        Decimal("87.5"),
    )
    assert event.source == "xapi" and event.source_ref == statement_id
    assert event.assessment_ref == QUIZ


async def test_a_voiding_statement_voids_its_target_and_its_attempts(
    lrs: httpx.AsyncClient, nats_url: str
) -> None:
    [target] = (await lrs.post("/xapi/statements", json=scored("stu-2", 50), headers=XAPI)).json()
    voiding = {
        "actor": {"account": {"homePage": "https://quiz.example", "name": "quiz-admin"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target},
    }
    posted = await lrs.post("/xapi/statements", json=[voiding], headers=XAPI)
    assert posted.status_code == 200
    gone = await lrs.get("/xapi/statements", params={"statementId": target}, headers=XAPI)
    assert gone.status_code == 404
    kept = await lrs.get("/xapi/statements", params={"voidedStatementId": target}, headers=XAPI)
    assert kept.status_code == 200 and kept.json()["id"] == target
    recorded, voided = await published_evidence(nats_url, 2)
    assert isinstance(recorded, AttemptRecordedV1) and isinstance(voided, AttemptVoidedV1)
    assert voided.attempt_id == recorded.attempt_id and voided.voided_by == "quiz-admin"


async def test_statements_that_cannot_be_mapped_are_kept_reported_and_retried(
    lrs: httpx.AsyncClient, stack: Stack, nats_url: str
) -> None:
    unaligned = scored("stu-3", 3, object={"id": "https://quiz.example/unit-4"})
    unaligned["result"] = {"score": {"raw": 3}}
    no_score = scored("stu-3")
    ids = (await lrs.post("/xapi/statements", json=[unaligned, no_score], headers=XAPI)).json()
    assert await evidence_stream_length(nats_url) == 0
    report = (await lrs.get("/api/v1/xapi/unmapped")).json()
    assert [(s["statement_id"], s["problems"][0]["field"]) for s in report["statements"]] == [
        (ids[0], "object.id"),
        (ids[1], "result.score"),
    ]
    still = await lrs.post(f"/api/v1/xapi/unmapped/{ids[0]}/retry")
    assert still.status_code == 400
    await define_catalog(
        nats_url,
        http_url(stack.processes),
        outcome_defined("math.unit4", case_uri="https://quiz.example/unit-4"),
        token=stack.token(),
    )
    mapped = await lrs.post(f"/api/v1/xapi/unmapped/{ids[0]}/retry")
    assert mapped.status_code == 200 and mapped.json()["status"] == "mapped"
    remaining = (await lrs.get("/api/v1/xapi/unmapped")).json()["statements"]
    assert [s["statement_id"] for s in remaining] == [ids[1]]
    [event] = await published_evidence(nats_url, 1)
    assert isinstance(event, AttemptRecordedV1) and event.outcome_id == "math.unit4"


async def test_explicit_alignment_and_invalid_statements(
    lrs: httpx.AsyncClient, stack: Stack
) -> None:
    aligned = scored("stu-4", object={"id": "https://tool.example/rubric/7"})
    aligned["result"] = {"score": {"raw": 3}}
    aligned["context"] = {"extensions": {OUTCOME_EXTENSION: "math.rp.3"}}
    bad = scored("stu-4", 80, verb={"id": "not an iri"})
    refused = await lrs.post("/xapi/statements", json=[aligned, bad], headers=XAPI)
    assert refused.status_code == 400
    assert [v["field"] for v in refused.json()["violations"]] == ["[1].verb.id"]
    stored = await lrs.post("/xapi/statements", json=aligned, headers=XAPI)
    [statement_id] = stored.json()
    # The tool sends; reading a student's history takes someone who may (here, an admin).
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    history = (await lrs.get("/api/v1/students/stu-4/attempts", headers=admin)).json()
    history = history["attempts"]
    assert [(a["outcome_id"], a["score"], a["source_ref"]) for a in history] == [
        ("math.rp.3", "3", statement_id)
    ]
    query = await lrs.get("/xapi/statements", params={"verb": "x"}, headers=XAPI)
    assert query.status_code == 400
