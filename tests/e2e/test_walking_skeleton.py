"""A teacher defines an outcome and records attempts; mastery and reporting follow over NATS.
Then the mastery service is killed mid-stream and must come back exactly where it was."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from arc.catalog.v1 import catalog_pb2
from arc.mastery.v1 import mastery_pb2
from arc.reporting.v1 import reporting_pb2
from arc_contracts import MasteryChangedV1, decode
from arc_platform.bus import last_sequence
from tests.support.stack import (
    ONE_TO_FOUR,
    Stack,
    attempt,
    caught_up,
    eventually,
    replayed_by_batch,
)


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    """All four services, on SQLite and again on PostgreSQL."""
    running = Stack(nats_url, tmp_path / "data", database_url).start()
    yield running
    running.stop()


async def define_outcome(stack: Stack, code: str) -> str:
    reply = await stack.catalog().DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code=code, statement=f"I can {code}", scale=ONE_TO_FOUR)
    )
    outcome_id: str = reply.outcome_id
    # Evidence learns outcomes from catalog events: wait until it accepts one.
    await eventually(
        lambda: stack.evidence().RecordAttempt(attempt("warm-up", outcome_id, 1)),
        what=f"evidence to know {outcome_id}",
    )
    return outcome_id


async def test_attempts_flow_to_mastery_and_reporting(stack: Stack, nats_url: str) -> None:
    outcome_id = await define_outcome(stack, "MATH.6.RP.1")
    nc = await nats.connect(nats_url)
    changes: list[MasteryChangedV1] = []

    async def collect(msg: Msg) -> None:
        _, event = decode(msg.headers, msg.data)
        assert isinstance(event, MasteryChangedV1)
        if event.student_id == "stu-1":
            changes.append(event)

    await nc.subscribe("arc.mastery.v1.>", cb=collect)
    start = datetime.now(UTC) - timedelta(days=10)
    for day, score in enumerate([2, 3, 3]):
        await stack.evidence().RecordAttempt(
            attempt("stu-1", outcome_id, score, start + timedelta(days=day))
        )

    await eventually(lambda: _async(len(changes) >= 2), what="two MasteryChanged events")
    assert [(c.before.value, c.after.value, c.after.status) for c in changes] == [
        (None, Decimal(2), "approaching"),
        (Decimal(2), Decimal(3), "mastered"),
    ]
    assert changes[1].after.level_label == "Meets" and changes[1].cause.kind == "evidence"
    assert all(c.method == "most_recent" for c in changes)

    async def full_history() -> reporting_pb2.StudentOutcomeReport | None:
        report = await stack.reporting().GetStudentOutcome(
            reporting_pb2.GetStudentOutcomeRequest(student_id="stu-1", outcome_id=outcome_id)
        )
        return report if len(report.attempts) == 3 and len(report.changes) == 2 else None

    report = await eventually(full_history, what="reporting to show the history")
    assert report.level == 3 and report.level_label == "Meets" and report.mastered
    assert [a.score for a in report.attempts] == [2, 3, 3]
    assert report.outcome_code == "MATH.6.RP.1"

    # A parent asks mastery why: the method, the evidence in order, each one's share.
    explained = await stack.mastery().Explain(
        mastery_pb2.ExplainRequest(student_id="stu-1", outcome_id=outcome_id)
    )
    assert explained.method == "most_recent" and explained.standing.value == "3.00"
    assert [c.score for c in explained.counted] == ["2", "3", "3"]
    assert [c.contribution for c in explained.counted] == ["0", "0", "1"]
    # …and how it stood after the first assessment only (over HTTP this time).
    async with httpx.AsyncClient(base_url=stack.http_url("mastery")) as http:
        reply = await http.get(
            f"/api/v1/students/stu-1/outcomes/{outcome_id}/explanation",
            params={"as_assessed_by": (start + timedelta(hours=12)).isoformat()},
            headers={"Authorization": f"Bearer {stack.token('admin')}"},
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["standing"]["value"] == "2.00"
    await nc.close()


async def _async(value: bool) -> bool:
    return value


async def test_killed_mastery_resumes_exactly_where_it_was(
    stack: Stack, nats_url: str, tmp_path: Path
) -> None:
    outcomes = [await define_outcome(stack, f"SCI.{n}") for n in range(3)]
    students = [f"stu-{n}" for n in range(12)]
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=100)
    recorded: list[str] = []

    async def keep_recording(count: int) -> None:
        evidence = stack.evidence()
        for n in range(count):
            reply = await evidence.RecordAttempt(
                attempt(
                    rng.choice(students),
                    rng.choice(outcomes),
                    rng.randint(1, 4),
                    start + timedelta(hours=rng.randint(0, 2000)),
                )
            )
            recorded.append(reply.attempt_id)
            if n % 25 == 0:
                await asyncio.sleep(0)

    writer = asyncio.create_task(keep_recording(600))
    await eventually(lambda: _async(len(recorded) > 150), what="some attempts recorded")
    stack.processes["mastery"].kill()
    await eventually(lambda: _async(len(recorded) > 350), what="attempts while mastery is down")
    stack.restart("mastery")
    await writer

    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def every_attempt_applied() -> bool:
        # Not "positions reached the stream's end": the relay may still be publishing the last
        # attempts when the writer finishes.
        live = await mastery_states(stack, students, outcomes)
        return set(recorded) <= {a for state in live.values() for a in state[2]}

    await eventually(every_attempt_applied, timeout=90, what="mastery to apply every attempt")

    async def mastery_caught_up() -> bool:
        status = await stack.mastery().GetProjectionStatus(mastery_pb2.ProjectionStatusRequest())
        return await caught_up({p.stream: p.position for p in status.positions}, js, "evidence")

    await eventually(mastery_caught_up, timeout=60, what="mastery to reach every partition's end")

    # Each attempt applied exactly once, to the right student and outcome.
    live = await mastery_states(stack, students, outcomes)
    applied = [a for state in live.values() for a in state[2]]
    assert sorted(applied) == sorted(set(applied)), "an attempt was applied twice"
    assert set(recorded) <= set(applied), "an attempt was lost"

    # The live projection equals a rebuild from the full history (the rebuild command compares
    # every student-outcome pair: value, status, evidence applied, number of changes).
    target = "arc_rebuild" if stack.database_url else str(tmp_path / "rebuild")
    traces = tmp_path / "rebuild-traces.jsonl"
    rebuild = stack.service("mastery", f"rebuild --into {target}", ARC_TRACE_FILE=str(traces))
    rebuild.start(wait=False)
    assert rebuild.wait(120) == 0, "the rebuilt projection differs from the live one"
    assert "no differences" in rebuild.log_path.read_text()  # type: ignore[union-attr]
    # Traced a batch at a time: every evidence event once, and no span per message.
    assert replayed_by_batch(traces, "evidence") == await last_sequence(js, "evidence")

    # Every level change was published exactly once.
    published = await js.subscribe("arc.mastery.v1.>", ordered_consumer=True)
    ids: list[str] = []
    mastery_end = await last_sequence(js, "mastery")
    while len(ids) < mastery_end:
        msg = await published.next_msg(timeout=5)
        ids.append((msg.headers or {})["ce-id"])
    assert len(ids) == len(set(ids))
    await nc.close()


async def mastery_states(
    stack: Stack, students: list[str], outcomes: list[str]
) -> dict[tuple[str, str], tuple[bool, float, tuple[str, ...]]]:
    client = stack.mastery()
    states = {}
    for student in students:
        for outcome in outcomes:
            m = await client.GetMastery(
                mastery_pb2.GetMasteryRequest(student_id=student, outcome_id=outcome)
            )
            states[(student, outcome)] = (m.has_level, m.level, tuple(m.attempt_ids))
    return states
