"""Publishing survives a killed relay: what is recorded while it is down is published once it is
back, and each event reaches the stream exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from arc.catalog.v1 import catalog_pb2
from arc_contracts import AttemptRecordedV1
from arc_platform.bus import last_sequence
from tests.support.stack import ONE_TO_FOUR, Stack, attempt, eventually


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url)
    running.start("catalog")
    # Evidence serves its API without a relay; the relay runs as its own process.
    running.processes["evidence"] = running.service("evidence", ARC_RELAY_ENABLED="false").start()
    yield running
    running.stop()


async def test_events_recorded_while_relay_is_down_are_published_exactly_once(
    stack: Stack, nats_url: str
) -> None:
    outcome = await stack.catalog().DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code="ELA.W.1", statement="I can", scale=ONE_TO_FOUR)
    )
    evidence = stack.evidence()
    warm_up = await eventually(
        lambda: evidence.RecordAttempt(attempt("warm-up", outcome.outcome_id, 1)),
        what="evidence to learn the outcome",
    )
    recorded = [warm_up.attempt_id]

    async def record(count: int) -> None:
        for start in range(0, count, 20):
            replies = await asyncio.gather(
                *(
                    evidence.RecordAttempt(attempt(f"stu-{n % 30}", outcome.outcome_id, 1 + n % 4))
                    for n in range(start, min(start + 20, count))
                )
            )
            recorded.extend(reply.attempt_id for reply in replies)

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await record(800)
    # Started on a backlog, in small batches, so that it is killed mid-stream: running while
    # the attempts were recorded, it kept up with them and was sometimes done before the kill.
    relay = stack.service("evidence", "relay", ARC_RELAY_BATCH_SIZE="5").start(wait=False)
    await eventually(
        lambda: _published_more_than(js, 100), what="the relay to publish part of the backlog"
    )
    relay.kill()
    killed_at = await last_sequence(js, "evidence")
    assert killed_at < len(recorded), "the relay finished before it was killed: nothing tested"
    await record(200)  # recorded while the relay is down
    assert await last_sequence(js, "evidence") == killed_at

    restarted = stack.service("evidence", "relay").start(wait=False)
    try:
        sentinel = await evidence.RecordAttempt(attempt("sentinel", outcome.outcome_id, 4))
        recorded.append(sentinel.attempt_id)
        ids = await eventually(
            lambda: _published_attempt_ids(js, sentinel.attempt_id),
            timeout=60,
            what="the restarted relay to publish everything",
        )
    finally:
        restarted.stop()
    assert len(ids) == len(set(ids)), "an event was published twice"
    assert sorted(ids) == sorted(recorded), "an event was lost"
    await nc.close()


async def _published_more_than(js: nats.js.JetStreamContext, count: int) -> bool:
    return await last_sequence(js, "evidence") > count


async def _published_attempt_ids(js: nats.js.JetStreamContext, last_id: str) -> list[str] | None:
    """All attempt ids in the stream, once the one recorded last has arrived."""
    end = await last_sequence(js, "evidence")
    subscription = await js.subscribe("arc.evidence.>", ordered_consumer=True)
    ids: list[str] = []
    try:
        while len(ids) < end:
            msg = await subscription.next_msg(timeout=5)
            ids.append(AttemptRecordedV1.model_validate_json(msg.data).attempt_id)
    finally:
        await subscription.unsubscribe()
    return ids if ids and ids[-1] == last_id else None
