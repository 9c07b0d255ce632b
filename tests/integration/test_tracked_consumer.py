"""A tracked consumer applies a stream in order, once, and records its position atomically with
its effects: a failure mid-batch leaves nothing behind, and it resumes from its position."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import nats
import nats.errors
import nats.js
import pytest
import sqlalchemy as sa

from arc_contracts import Envelope, MasteryChangedV1, encode
from arc_platform import heap
from arc_platform.bus import ensure_stream
from arc_platform.consumer import (
    ConsumerStalled,
    Delivery,
    OrderedPull,
    TrackedConsumer,
    ordered_pull,
)
from arc_platform.settings import ServiceSettings
from arc_platform.views import StalePosition, TrackedView, create_engine
from tests.support.events import mastery_changed

metadata = sa.MetaData()
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("student_id", sa.String(50)),
)


def view(tmp_path: Path, database_url: str | None) -> TrackedView:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, database_url=database_url)
    return TrackedView(create_engine(settings), metadata)


def event(n: int) -> MasteryChangedV1:
    return mastery_changed(f"stu-{n}", n % 4 + 1)


def rows(tracked: TrackedView) -> list[int]:
    with tracked.engine.connect() as conn:
        return [
            r[0] for r in conn.execute(sa.select(applied.c.sequence).order_by(applied.c.sequence))
        ]


def test_a_failed_transaction_writes_neither_effects_nor_position(
    tmp_path: Path, database_url: str | None
) -> None:
    tracked = view(tmp_path, database_url)
    with pytest.raises(RuntimeError), tracked.advancing("S", 5) as conn:
        conn.execute(sa.insert(applied).values(sequence=5, student_id="x"))
        raise RuntimeError("crash before commit")
    assert tracked.position("S") == 0 and rows(tracked) == []
    with tracked.advancing("S", 5) as conn:
        conn.execute(sa.insert(applied).values(sequence=5, student_id="x"))
    assert tracked.position("S") == 5
    with pytest.raises(StalePosition), tracked.advancing("S", 5):
        pass


async def test_consumer_resumes_from_its_position_after_a_failure(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, "mastery", duplicate_window_seconds=60)
    for n in range(1, 201):
        subject, body, headers = encode(
            event(n), Envelope(f"id-{n}", "/test", MasteryChangedV1.event_type(), datetime.now(UTC))
        )
        await js.publish(subject, body, headers=headers)

    tracked = view(tmp_path, database_url)
    failures = {"left": 2}

    def apply(batch: list[Delivery]) -> None:
        with tracked.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                conn.execute(sa.insert(applied).values(sequence=delivery.sequence, student_id="s"))
                if delivery.sequence in (57, 140) and failures["left"]:
                    failures["left"] -= 1
                    raise RuntimeError(f"transient failure at {delivery.sequence}")

    consumer = TrackedConsumer(js, "mastery", tracked.position, apply, max_batch=32)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    deadline = asyncio.get_running_loop().time() + 30
    while tracked.position("ARC_MASTERY") < 200:
        assert asyncio.get_running_loop().time() < deadline, "consumer did not catch up"
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert failures["left"] == 0
    assert rows(tracked) == list(range(1, 201))
    await nc.close()


async def test_a_lingering_consumer_applies_what_arrives_together_in_one_batch(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    """With ``linger`` the first message waits for those right behind it (one transaction for
    a trickle); without it each is applied as it comes. Order and position are the same."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, "mastery", duplicate_window_seconds=60)
    tracked = view(tmp_path, database_url)
    batches: list[list[int]] = []

    def apply(batch: list[Delivery]) -> None:
        batches.append([d.sequence for d in batch])
        with tracked.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                conn.execute(sa.insert(applied).values(sequence=delivery.sequence, student_id="s"))

    async def publish(n: int) -> None:
        subject, body, headers = encode(
            event(n), Envelope(f"id-{n}", "/test", MasteryChangedV1.event_type(), datetime.now(UTC))
        )
        await js.publish(subject, body, headers=headers)

    async def reached(position: int) -> None:
        deadline = asyncio.get_running_loop().time() + 30
        while tracked.position("ARC_MASTERY") < position:
            assert asyncio.get_running_loop().time() < deadline, "consumer did not catch up"
            await asyncio.sleep(0.02)

    for linger, first, last in [(2.0, 1, 3), (0.0, 4, 6)]:
        stop = asyncio.Event()
        consumer = TrackedConsumer(js, "mastery", tracked.position, apply, linger=linger)
        task = asyncio.create_task(consumer.run(stop))
        await publish(first)
        if linger:
            await asyncio.sleep(0.2)
            for n in range(first + 1, last + 1):
                await publish(n)
        else:
            for n in range(first + 1, last + 1):
                await reached(n - 1)  # the one before is applied by itself
                await publish(n)
        await reached(last)
        stop.set()
        await task
    assert batches == [[1, 2, 3], [4], [5], [6]]
    assert rows(tracked) == [1, 2, 3, 4, 5, 6]
    await nc.close()


async def publish_mastery_events(js: nats.js.JetStreamContext, count: int) -> None:
    await ensure_stream(js, "mastery", duplicate_window_seconds=60)
    acks = []
    for n in range(1, count + 1):
        subject, body, headers = encode(
            event(n), Envelope(f"id-{n}", "/test", MasteryChangedV1.event_type(), datetime.now(UTC))
        )
        acks.append(await js.publish_async(subject, body, headers=headers))
    await asyncio.gather(*acks)


async def test_a_slow_reader_holds_at_most_a_window_of_messages(nats_url: str) -> None:
    """However far behind the reader is, the source has no more than its window received or
    asked for (a push consumer's flow control let a rebuild buffer most of the stream)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await publish_mastery_events(js, 3000)
    source = await ordered_pull(js, "ARC_MASTERY", "arc.mastery.>", 1, 100)
    try:
        await asyncio.sleep(1.0)  # the reader is busy elsewhere
        assert 0 < source.pending_msgs <= 100
        sequences: list[int] = []
        while len(sequences) < 3000:
            sequences.append((await source.next_msg(timeout=2.0)).metadata.sequence.stream)
            assert source.pending_msgs <= 100
        assert sequences == list(range(1, 3001))
        with pytest.raises(nats.errors.TimeoutError):
            await source.next_msg(timeout=0.3)
    finally:
        await source.unsubscribe()
        await nc.close()


async def test_the_source_says_so_when_its_consumer_is_gone(nats_url: str) -> None:
    """A consumer deleted under the reader (a restarted server forgets it) is an error, so the
    tracked consumer starts again from its recorded position instead of waiting forever."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await publish_mastery_events(js, 10)
    source = cast(OrderedPull, await ordered_pull(js, "ARC_MASTERY", "arc.mastery.>", 1, 100))
    try:
        for _ in range(10):
            await source.next_msg(timeout=2.0)
        await js.delete_consumer("ARC_MASTERY", source.name)
        with pytest.raises(ConsumerStalled):
            for _ in range(20):
                with contextlib.suppress(nats.errors.TimeoutError):
                    await source.next_msg(timeout=0.5)
    finally:
        await source.unsubscribe()
        await nc.close()


async def test_a_consumer_caught_up_after_a_backlog_hands_the_free_heap_back(
    nats_url: str, tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once, after the backlog (every consumer of the process caught up); not again for the
    few messages after it."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await publish_mastery_events(js, 600)
    due = heap.ReleaseAfterBacklog(after=500)
    monkeypatch.setattr(heap, "after_backlog", due)
    released: list[int] = []
    tracked = view(tmp_path, database_url)

    def release() -> bool:
        released.append(tracked.position("ARC_MASTERY"))
        return heap_release()

    heap_release = heap.release_free_heap
    monkeypatch.setattr(heap, "release_free_heap", release)

    def apply(batch: list[Delivery]) -> None:
        with tracked.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                conn.execute(sa.insert(applied).values(sequence=delivery.sequence, student_id="s"))

    consumer = TrackedConsumer(js, "mastery", tracked.position, apply, max_batch=50)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while tracked.position("ARC_MASTERY") < 600 or not released:
            assert asyncio.get_running_loop().time() < deadline, "no release after the backlog"
            await asyncio.sleep(0.05)
        assert released == [600]  # at the end of the backlog, not while behind
        for n in range(601, 651):
            subject, body, headers = encode(
                event(n),
                Envelope(f"id-{n}", "/test", MasteryChangedV1.event_type(), datetime.now(UTC)),
            )
            await js.publish(subject, body, headers=headers)
        while tracked.position("ARC_MASTERY") < 650:
            assert asyncio.get_running_loop().time() < deadline, "consumer did not catch up"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await nc.close()
    assert released == [600] and due.releases == 1
    assert rows(tracked) == list(range(1, 651))
