"""Mastery scales out: replicas share the partitions of the evidence stream (balanced as replicas
come and go), each partition is consumed by exactly one replica at a time (a lease in NATS KV), a
replica that dies hands its partitions over, and the result equals a rebuild of the history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError

from arc.mastery.v1 import mastery_pb2
from arc_contracts import AttemptRecordedV1, Envelope, OutcomeDefinedV1, ProficiencyScaleV1, encode
from arc_contracts.base import partition_of
from arc_platform.bus import ensure_stream, last_sequence
from arc_platform.partitions import LEASE_BUCKET
from arc_platform.relay import event_id
from tests.support.stack import Stack, eventually

PARTITIONS = 4
SCALE = ProficiencyScaleV1.model_validate(
    {
        "name": "1-4",
        "mastery_threshold": 3,
        "levels": [{"value": v, "label": f"L{v}"} for v in (1, 2, 3, 4)],
    }
)
STUDENTS = [f"stu-{n:02d}" for n in range(24)]


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url)
    yield running
    running.stop()


async def publish(js: JetStreamContext, events: list[AttemptRecordedV1 | OutcomeDefinedV1]) -> None:
    for n, event in enumerate(events):
        envelope = Envelope(
            event_id(f"test-{id(events)}", n), "/test", event.event_type(), datetime.now(UTC)
        )
        subject, body, headers = encode(event, envelope, PARTITIONS)
        await js.publish(subject, body, headers=headers)


def attempts(round_: int) -> list[AttemptRecordedV1]:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    return [
        AttemptRecordedV1(
            attempt_id=f"r{round_}-{student}-{k}",
            student_id=student,
            outcome_id="sci.1",
            outcome_revision=1,
            scale=SCALE,
            score=Decimal(1 + (k + round_ + n) % 4),
            assessed_at=start + timedelta(days=10 * round_ + k),
            recorded_at=datetime.now(UTC),
            recorded_by="t",
        )
        for n, student in enumerate(STUDENTS)
        for k in range(3)
    ]


def replica(stack: Stack, name: str, relay: bool) -> None:
    stack.processes[name] = stack.service(
        "mastery", ARC_PARTITIONS=str(PARTITIONS), ARC_RELAY_ENABLED="true" if relay else "false"
    ).start()


async def lease_holders(js: JetStreamContext) -> dict[str, str]:
    kv = await js.key_value(LEASE_BUCKET)
    holders: dict[str, str] = {}
    try:
        keys = await kv.keys()
    except NoKeysError:  # between an expiry and the next holder
        return holders
    for key in keys:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # released between listing and reading
            continue
        if entry.value:
            holders[key] = entry.value.decode()
    return holders


async def caught_up(stack: Stack, name: str, js: JetStreamContext) -> bool:
    status = await stack.mastery_of(name).GetProjectionStatus(mastery_pb2.ProjectionStatusRequest())
    positions = {p.stream: p.position for p in status.positions}
    for partition in range(PARTITIONS):
        end = await last_sequence(js, "evidence", f"arc.evidence.*.*.p{partition}")
        if positions.get(f"ARC_EVIDENCE.p{partition}", 0) < end:
            return False
    return True


async def test_replicas_share_partitions_and_hand_them_over(stack: Stack, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for context in ("catalog", "evidence", "mastery"):
        await ensure_stream(js, context, duplicate_window_seconds=600)
    await publish(
        js,
        [
            OutcomeDefinedV1(
                outcome_id="sci.1", code="SCI.1", statement="I can", scale=SCALE, revision=1
            )
        ],
    )
    await publish(js, attempts(0))  # type: ignore[arg-type]
    assert {partition_of(s, PARTITIONS) for s in STUDENTS} == set(range(PARTITIONS))

    replica(stack, "a", relay=True)
    alone = await eventually(lambda: _shares(js, [4]), what="a alone to take every partition")
    replica(stack, "b", relay=False)
    await eventually(lambda: _shares(js, [2, 2]), timeout=30, what="a and b to share 2 + 2")
    await eventually(lambda: caught_up(stack, "b", js), timeout=60, what="replicas to catch up")

    await publish(js, attempts(1))  # type: ignore[arg-type]
    stack.processes["a"].kill()  # b takes over a's partitions once a's member key expires
    await eventually(lambda: _shares(js, [4]), timeout=30, what="b to take every partition")
    assert set((await lease_holders(js)).values()) != set(alone.values())
    replica(stack, "c", relay=True)
    await eventually(lambda: _shares(js, [2, 2]), timeout=30, what="b and c to share 2 + 2")
    await eventually(lambda: caught_up(stack, "c", js), timeout=60, what="c to catch up")
    await eventually(lambda: caught_up(stack, "b", js), timeout=60, what="b to catch up")

    client = stack.mastery_of("c")
    for student in STUDENTS:
        reply = await client.GetMastery(
            mastery_pb2.GetMasteryRequest(student_id=student, outcome_id="sci.1")
        )
        assert len(reply.attempt_ids) == 6 and len(set(reply.attempt_ids)) == 6, student

    # The shared store equals a rebuild from the full history.
    stack.processes["b"].stop()
    stack.processes["c"].stop()
    rebuild = stack.service("mastery", "rebuild", ARC_PARTITIONS=str(PARTITIONS))
    rebuild.start(wait=False)
    assert rebuild.wait(120) == 0, "rebuild differs from the live projection"
    await nc.close()


async def _shares(js: JetStreamContext, shares: list[int]) -> dict[str, str] | None:
    """The partition leases, once every partition is held and the holders hold ``shares``."""
    holders = {
        key: holder
        for key, holder in (await lease_holders(js)).items()
        if key.startswith("mastery.p")  # not member keys, not the relay's lease
    }
    counts = sorted(Counter(holders.values()).values(), reverse=True)
    return holders if len(holders) == PARTITIONS and counts == shares else None
