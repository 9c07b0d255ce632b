"""A teacher uses evidence's HTTP API (a real evidence process on a real nats-server, on SQLite
and PostgreSQL); the catalog's roster and outcomes reach evidence as catalog events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1
from tests.support.evidence import (
    PERCENT,
    define_catalog,
    evidence_stream_length,
    http_url,
    outcome_defined,
    published_evidence,
    section_defined,
    student_defined,
    wait_for_http,
)
from tests.support.stack import Stack

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).isoformat()
CATALOG = [
    outcome_defined("math.rp.1"),
    outcome_defined("math.pct", PERCENT),
    outcome_defined("math.old", retired=True),
    student_defined("stu-1"),
    student_defined("stu-2"),
    section_defined("6a", ["stu-1", "stu-2", "stu-3"], teachers=["t-ada"]),
]


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url)
    running.processes["evidence"] = running.service(
        "evidence", ARC_EVIDENCE_REQUIRE_ROSTER="true"
    ).start()
    yield running
    running.stop()


@pytest.fixture
async def client(stack: Stack, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    base = http_url(stack.processes)
    await wait_for_http(base)
    await define_catalog(nats_url, base, *CATALOG, token=stack.token())
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=admin) as client:
        yield client


def class_batch(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "recorded_by": "t-ada",
        "assessed_at": YESTERDAY,
        "assessment_ref": "unit-3-quiz",
        "section_id": "6a",
        "rows": list(rows),
    } | extra


def row(student: str, *scores: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "student_id": student,
        "scores": [{"outcome_id": o, "score": s} for o, s in scores],
    } | extra


def violations(response: httpx.Response) -> list[tuple[str, str]]:
    return [(v["field"], v["description"]) for v in response.json()["violations"]]


async def test_a_teacher_records_a_class_and_reads_a_students_history(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    reply = await client.post(
        "/api/v1/attempts/batch",
        json=class_batch(
            row("stu-1", ("math.rp.1", 3), ("math.pct", "87.5")),
            row("stu-2", ("math.rp.1", 2), ("math.pct", 61)),
            {"student_id": "stu-3", "scores": [{"outcome_id": "math.rp.1", "status": "excused"}]},
        ),
    )
    assert reply.status_code == 201, reply.text
    rows = reply.json()["rows"]
    assert [r["student_id"] for r in rows] == ["stu-1", "stu-2", "stu-3"]
    events = await published_evidence(nats_url, 5)
    assert all(isinstance(e, AttemptRecordedV1) for e in events)
    by_id = {e.attempt_id: e for e in events if isinstance(e, AttemptRecordedV1)}
    first = by_id[rows[0]["attempt_ids"][1]]
    assert (first.student_id, first.outcome_id, first.score) == (
        "stu-1",
        "math.pct",
        Decimal("87.5"),
    )
    assert first.scale == PERCENT and first.source == "batch"
    assert first.assessment_ref == "unit-3-quiz" and first.recorded_by == "t-ada"
    excused = by_id[rows[2]["attempt_ids"][0]]
    assert excused.status == "excused" and excused.score is None

    history = await client.get("/api/v1/students/stu-1/attempts", params={"outcome_id": "math.pct"})
    [attempt] = history.json()["attempts"]
    assert attempt["score"] == "87.5" and attempt["scale"]["kind"] == "numeric"
    later = await client.get(
        "/api/v1/students/stu-1/attempts", params={"assessed_from": datetime.now(UTC).isoformat()}
    )
    assert later.json()["attempts"] == []


async def test_one_bad_row_records_nothing_and_every_bad_row_is_named(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    reply = await client.post(
        "/api/v1/attempts/batch",
        json=class_batch(
            row("stu-1", ("math.rp.1", 3)),
            row("stu-2", ("math.rp.1", 5), ("math.old", 3)),
            row("stu-3", ("math.pct", 50), assessed_at=future),
            row("stu-9", ("nope", 1)),
            section_id=None,
        ),
    )
    assert reply.status_code == 400
    assert violations(reply) == [
        ("rows[1].scores[0].score", "5 is not on the scale of 'math.rp.1' (1, 2, 3, 4)"),
        ("rows[1].scores[1].outcome_id", "outcome 'math.old' is retired"),
        ("rows[2].assessed_at", f"{future} is in the future"),
        ("rows[3].student_id", "unknown student 'stu-9'"),
        ("rows[3].scores[0].outcome_id", "unknown outcome 'nope'"),
    ]
    malformed = await client.post(
        "/api/v1/attempts",
        json={"student": "stu-1", "scores": [{"outcome_id": "math.rp.1", "score": "x"}]},
    )
    assert malformed.status_code == 400
    assert [field for field, _ in violations(malformed)] == [
        "student_id",
        "scores[0].score",
        "student",
    ]
    assert await evidence_stream_length(nats_url) == 0


async def test_a_retried_request_returns_the_original_result(client: httpx.AsyncClient) -> None:
    body = {
        "student_id": "stu-1",
        "scores": [{"outcome_id": "math.rp.1", "score": 3}],
        "assessed_at": YESTERDAY,
        "recorded_by": "t-ada",
    }
    headers = {"Idempotency-Key": "tablet-7:42"}
    first = await client.post("/api/v1/attempts", json=body, headers=headers)
    again = await client.post("/api/v1/attempts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["attempt_ids"] == first.json()["attempt_ids"]
    assert again.json()["replayed"] and not first.json()["replayed"]
    history = await client.get("/api/v1/students/stu-1/attempts")
    assert len(history.json()["attempts"]) == 1
    other = await client.post(
        "/api/v1/attempts", json=body | {"comment": "different"}, headers=headers
    )
    assert other.status_code == 409 and violations(other)[0][0] == "idempotency_key"


async def test_a_teacher_voids_one_attempt_and_corrects_another(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    reply = await client.post(
        "/api/v1/attempts/batch",
        json=class_batch(row("stu-1", ("math.rp.1", 2)), row("stu-2", ("math.rp.1", 3))),
    )
    [[wrong], [typo]] = [r["attempt_ids"] for r in reply.json()["rows"]]
    refused = await client.post(
        f"/api/v1/students/stu-1/attempts/{wrong}/void", json={"reason": " ", "voided_by": ""}
    )
    assert refused.status_code == 400
    assert [f for f, _ in violations(refused)] == ["reason"]  # voided_by "": the caller
    void = await client.post(
        f"/api/v1/students/stu-1/attempts/{wrong}/void",
        json={"reason": "scored the wrong paper", "voided_by": "t-ada"},
    )
    assert void.status_code == 200
    twice = await client.post(
        f"/api/v1/students/stu-1/attempts/{wrong}/void",
        json={"reason": "again", "voided_by": "t-ada"},
    )
    assert twice.status_code == 409
    missing = await client.post(
        "/api/v1/students/stu-1/attempts/nope/void", json={"reason": "x", "voided_by": "t"}
    )
    assert missing.status_code == 404
    fixed = await client.post(
        f"/api/v1/students/stu-2/attempts/{typo}/supersede",
        json={"reason": "typed 3 for 4", "recorded_by": "t-ada", "score": 4},
    )
    assert fixed.status_code == 201
    correction = fixed.json()["attempt_id"]

    events = await published_evidence(nats_url, 4)
    voided = events[2]
    assert isinstance(voided, AttemptVoidedV1)
    assert (voided.attempt_id, voided.voided_by) == (wrong, "t-ada")
    assert voided.reason.startswith("enc:v1:stu-1:")  # sealed with stu-1's key: read below
    corrected = events[3]
    assert isinstance(corrected, AttemptRecordedV1)
    assert corrected.supersedes == typo and corrected.score == Decimal(4)
    assert (corrected.correction_reason or "").startswith("enc:v1:stu-2:")  # sealed: read below

    current = (await client.get("/api/v1/students/stu-2/attempts")).json()["attempts"]
    assert [a["attempt_id"] for a in current] == [correction]
    everything = await client.get(
        "/api/v1/students/stu-2/attempts", params={"include_voided": "true"}
    )
    assert [(a["attempt_id"], a["superseded_by"]) for a in everything.json()["attempts"]] == [
        (typo, correction),
        (correction, None),
    ]
    assert everything.json()["attempts"][1]["correction_reason"] == "typed 3 for 4"
    stu1 = await client.get("/api/v1/students/stu-1/attempts", params={"include_voided": "1"})
    [shown] = stu1.json()["attempts"]
    assert shown["void"]["reason"] == "scored the wrong paper" and not shown["counts"]


async def test_a_gradebook_export_is_checked_by_a_dry_run_then_recorded(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    export = "student_id,MATH.RP.1,math.pct\nstu-1,3,87.5\nstu-2,EX,\nstu-3,9,40\n"
    params = {"recorded_by": "t-ada", "assessed_at": YESTERDAY, "dry_run": "true"}
    csv = {"Content-Type": "text/csv"}
    dry = await client.post("/api/v1/imports/gradebook", content=export, params=params, headers=csv)
    assert dry.status_code == 400
    assert dry.json()["errors"] == [
        {
            "line": 4,
            "column": "MATH.RP.1",
            "description": "9 is not on the scale of 'math.rp.1' (1, 2, 3, 4)",
        }
    ]
    fixed = export.replace("stu-3,9", "stu-3,4")
    dry = await client.post("/api/v1/imports/gradebook", content=fixed, params=params, headers=csv)
    assert dry.status_code == 200
    assert {k: dry.json()[k] for k in ("attempts", "students", "excused", "recorded")} == {
        "attempts": 5,
        "students": 3,
        "excused": 1,
        "recorded": False,
    }
    assert await evidence_stream_length(nats_url) == 0
    real = await client.post(
        "/api/v1/imports/gradebook",
        content=fixed,
        params=params | {"dry_run": "false"},
        headers=csv | {"Idempotency-Key": "upload-1"},
    )
    assert real.status_code == 201 and real.json()["recorded"]
    events = await published_evidence(nats_url, 5)
    assert {e.source for e in events if isinstance(e, AttemptRecordedV1)} == {"csv"}
