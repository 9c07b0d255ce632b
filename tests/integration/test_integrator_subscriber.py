"""An integrator follows mastery changes from a point in time and resumes where it stopped."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats

from arc_contracts import Envelope, MasteryCauseV1, MasteryChangedV1, MasteryValueV1, encode
from arc_platform.bus import ensure_stream

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mastery_subscriber.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("mastery_subscriber", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mastery_subscriber"] = module
    spec.loader.exec_module(module)
    return module


def change(n: int) -> MasteryChangedV1:
    empty = MasteryValueV1(value=None, level=None, status="no_evidence")
    after = MasteryValueV1(value=Decimal(n % 4 + 1), level=Decimal(n % 4 + 1), status="not_yet")
    return MasteryChangedV1(
        student_id=f"stu-{n}",
        outcome_id="o",
        before=empty,
        after=after,
        method="mean",
        cause=MasteryCauseV1(kind="evidence", event_id=f"e{n}"),
        changed_at=datetime.now(UTC),
    )


async def test_follow_from_a_time_then_resume_after_the_last_sequence(nats_url: str) -> None:
    example = load_example()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, "mastery", duplicate_window_seconds=60)

    async def publish(numbers: range) -> None:
        for n in numbers:
            subject, body, headers = encode(
                change(n),
                Envelope(f"id-{n}", "/test", MasteryChangedV1.event_type(), datetime.now(UTC)),
            )
            await js.publish(subject, body, headers=headers)

    await publish(range(0, 5))
    await asyncio.sleep(0.05)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await publish(range(5, 10))
    seen: list[str] = []

    async def handle(sequence: int, event: MasteryChangedV1) -> None:
        seen.append(event.student_id)

    last = await example.follow(nats_url, handle, since=cut, idle_seconds=0.5)
    assert seen == [f"stu-{n}" for n in range(5, 10)] and last == 10
    await publish(range(10, 12))
    seen.clear()
    assert await example.follow(nats_url, handle, after_sequence=last, idle_seconds=0.5) == 12
    assert seen == ["stu-10", "stu-11"]
    seen.clear()
    earlier = await example.follow(
        nats_url, handle, since=cut - timedelta(days=1), idle_seconds=0.5
    )
    assert earlier == 12 and len(seen) == 12
    await nc.close()
