"""A school records evidence with roster checking on: the catalog service defines outcomes and
students, two evidence replicas share one store, teachers write concurrently to the same
student, correct and void; a consumer on the bus rebuilds each student's evidence from the
published events alone and finds exactly what evidence holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from arc.catalog.v1 import catalog_pb2
from arc.evidence.v1 import evidence_pb2 as pb
from arc.evidence.v1 import evidence_pb2_grpc
from arc_contracts import AttemptRecordedV1, AttemptVoidedV1, ContractEvent, decode
from arc_platform.bus import last_sequence
from arc_platform.devstack import ServiceProcess, free_port, service_env
from arc_platform.grpc_server import field_violations
from tests.support.evidence import http_url, wait_for_http
from tests.support.stack import ONE_TO_FOUR, Stack, attempt, timestamp

STUDENTS = [f"stu-{n}" for n in range(1, 7)]
LAST_WEEK = datetime.now(UTC) - timedelta(days=7)


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start("catalog")
    roster = {"ARC_EVIDENCE_REQUIRE_ROSTER": "true"}
    running.processes["evidence"] = running.service("evidence", **roster).start()
    # A second replica on the same store; one relay (the first replica's) publishes for both.
    env = service_env(
        "evidence",
        nats_url,
        running.data_dir,
        free_port(),
        database_url,
        {
            **roster,
            **running.dev_issuer().service_env(),  # trusts the same token issuer
            "ARC_RELAY_ENABLED": "false",
            "ARC_HTTP_PORT": str(free_port()),
        },
    )
    log = running.data_dir / "logs" / "evidence-2.log"
    running.processes["evidence-2"] = ServiceProcess("evidence", env, log_path=log).start()
    yield running
    running.stop()


def stub(stack: Stack, name: str) -> evidence_pb2_grpc.EvidenceServiceStub:
    return evidence_pb2_grpc.EvidenceServiceStub(stack.channel(name))


async def catalog_known(stack: Stack, nats_url: str) -> None:
    """Wait until both replicas' catalog views have read the whole catalog stream."""
    nc = await nats.connect(nats_url)
    end = await last_sequence(nc.jetstream(), "catalog")
    await nc.close()
    for name in ("evidence", "evidence-2"):
        base = http_url(stack.processes, name)
        await wait_for_http(base)
        admin = {"Authorization": f"Bearer {stack.token('admin')}"}
        async with httpx.AsyncClient(base_url=base, headers=admin) as client:
            for _ in range(600):
                positions = (await client.get("/api/v1/catalog-view")).json()["positions"]
                if positions.get("ARC_CATALOG", 0) >= end:
                    break
                await asyncio.sleep(0.05)
            else:
                raise TimeoutError(f"{name} never read the catalog")


async def bus_events(nats_url: str) -> list[ContractEvent]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    end = await last_sequence(js, "evidence")
    subscription = await js.subscribe("arc.evidence.>", ordered_consumer=True)
    found: list[ContractEvent] = []
    while len(found) < end:
        msg = await subscription.next_msg(timeout=10)
        found.append(decode(msg.headers, msg.data)[1])
    await nc.close()
    return found


def counted_from_events(events: list[ContractEvent], student: str) -> dict[str, str]:
    """What a consumer knows from the events alone: the student's attempts still counting,
    with their scores (a correction replaces the attempt it supersedes; a void removes)."""
    counted: dict[str, str] = {}
    for event in events:
        if isinstance(event, AttemptRecordedV1) and event.student_id == student:
            if event.supersedes:
                counted.pop(event.supersedes)
            counted[event.attempt_id] = f"{event.status}:{event.score}@{event.scale.name}"
        elif isinstance(event, AttemptVoidedV1) and event.student_id == student:
            counted.pop(event.attempt_id)
    return counted


async def test_concurrent_teachers_on_two_replicas_lose_nothing_and_the_bus_tells_all(
    stack: Stack, nats_url: str
) -> None:
    catalog = stack.catalog()
    outcome = await catalog.DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code="SCI.1", statement="I can model", scale=ONE_TO_FOUR)
    )
    for student in STUDENTS:
        await catalog.DefinePerson(
            catalog_pb2.Person(
                person_id=student, role="student", given_name="Sam", family_name=student
            )
        )
    await catalog_known(stack, nats_url)
    one, two = stub(stack, "evidence"), stub(stack, "evidence-2")

    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await one.RecordAttempt(attempt("stu-99", outcome.outcome_id, 3, LAST_WEEK))
    assert field_violations(unknown.value) == [("student_id", "unknown student 'stu-99'")]

    # Forty teachers' devices write to stu-1 at once, through both replicas.
    replies = await asyncio.gather(
        *(
            (one, two)[n % 2].RecordAttempt(
                attempt("stu-1", outcome.outcome_id, 1 + n % 4, LAST_WEEK + timedelta(hours=n))
            )
            for n in range(40)
        )
    )
    batch = await two.RecordBatch(
        pb.RecordBatchRequest(
            recorded_by="t-ada",
            assessed_at=timestamp(LAST_WEEK),
            rows=[
                pb.BatchRow(
                    student_id=s, scores=[pb.OutcomeScore(outcome_id=outcome.outcome_id, score="2")]
                )
                for s in STUDENTS
            ],
        )
    )
    recorded = [r.attempt_id for r in replies] + [a for r in batch.rows for a in r.attempt_ids]
    await two.VoidAttempt(
        pb.VoidAttemptRequest(
            student_id="stu-1", attempt_id=recorded[0], reason="other class", voided_by="t-ada"
        )
    )
    correction = await one.SupersedeAttempt(
        pb.SupersedeAttemptRequest(
            student_id="stu-1",
            attempt_id=recorded[1],
            score="4",
            reason="misread the rubric",
            recorded_by="t-ada",
        )
    )

    history = await one.ListAttempts(pb.ListAttemptsRequest(student_id="stu-1"))
    assert len(history.attempts) == 40  # 40 + batch row - void - superseded + correction
    everything = await two.ListAttempts(
        pb.ListAttemptsRequest(student_id="stu-1", include_voided=True)
    )
    assert {a.attempt_id for a in everything.attempts} == {
        *recorded[:40],
        batch.rows[0].attempt_ids[0],
        correction.attempt_id,
    }

    nc = await nats.connect(nats_url)
    await _wait_for_stream(nc, 40 + len(STUDENTS) + 2)
    await nc.close()
    events = await bus_events(nats_url)
    ids = [e.attempt_id for e in events if isinstance(e, AttemptRecordedV1)]
    assert len(ids) == len(set(ids)), "an attempt was published twice"
    assert set(ids) == {*recorded, correction.attempt_id}, "an attempt was lost"
    counted = counted_from_events(events, "stu-1")
    assert counted == {
        a.attempt_id: f"scored:{a.score_text}@{a.scale_name}" for a in history.attempts
    }


async def test_a_retired_outcome_takes_no_more_evidence(stack: Stack, nats_url: str) -> None:
    catalog = stack.catalog()
    outcome = await catalog.DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code="OLD.1", statement="I can", scale=ONE_TO_FOUR)
    )
    await catalog.DefinePerson(
        catalog_pb2.Person(person_id="stu-1", role="student", given_name="A", family_name="B")
    )
    await catalog.RetireOutcome(catalog_pb2.RetireOutcomeRequest(outcome_id=outcome.outcome_id))
    await catalog_known(stack, nats_url)
    evidence = stub(stack, "evidence")
    with pytest.raises(grpc.aio.AioRpcError) as retired:
        await evidence.RecordAttempt(attempt("stu-1", outcome.outcome_id, 3))
    assert field_violations(retired.value) == [
        ("outcome_id", f"outcome {outcome.outcome_id!r} is retired")
    ]


async def _wait_for_stream(nc: NATS, count: int) -> None:
    js = nc.jetstream()
    for _ in range(600):
        if await last_sequence(js, "evidence") >= count:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the evidence stream never reached {count} events")
