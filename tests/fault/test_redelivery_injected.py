"""Duplicate and out-of-order delivery injected under the tracked consumer: the mastery projection
and reporting's read model, fed the same history through a source that repeats messages and
delivers some late, end up equal to a clean run over the same history."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import nats
import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from arc_contracts import (
    AttemptRecordedV1,
    AttemptVoidedV1,
    ContractEvent,
    Envelope,
    OutcomeDefinedV1,
    ProficiencyScaleV1,
    encode,
    stream_name,
)
from arc_mastery import published
from arc_mastery.application import MasteryApplication
from arc_mastery.domain import StudentOutcomeMastery
from arc_platform.bus import ensure_stream, last_sequence
from arc_platform.consumer import (
    MessageSource,
    OpenSource,
    PositionOf,
    TrackedConsumer,
    ordered_pull,
)
from arc_platform.partitions import DEFAULT_PARTITIONS, partition_position_key
from arc_platform.relay import OutboxRelay
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine
from arc_reporting.read_model import ReportingReadModel

PARTITIONS = DEFAULT_PARTITIONS
SCALE = ProficiencyScaleV1.model_validate(
    {
        "scale_id": "four",
        "name": "Four-point",
        "mastery_threshold": 3,
        "levels": [{"value": v, "label": f"L{v}"} for v in (1, 2, 3, 4)],
    }
)


# --- the fault: a message source that repeats some messages and delivers others late ------


@dataclass
class Injected:
    """The faults one run may inject (shared by all its subscriptions), and how many it did."""

    rng: random.Random
    budget: int
    chance: float = 0.03
    duplicated: int = 0
    delayed: int = 0

    def roll(self) -> str | None:
        if self.duplicated + self.delayed >= self.budget or self.rng.random() >= self.chance:
            return None
        return self.rng.choice(["duplicate", "delay"])


@dataclass
class FaultySubscription:
    """Wraps a tracked consumer's message source: a duplicated message comes again 0-3 messages
    later; a delayed one comes 1-3 messages after its successors (possibly in a later batch)."""

    real: MessageSource
    injected: Injected
    later: list[list[Any]] = field(default_factory=list)  # [message, messages to wait]
    #: Right after a message overtook a delayed one, say nothing is pending: the batch closes
    #: and the late message arrives after newer ones were applied (the dangerous case).
    close_batch: bool = False

    @property
    def pending_msgs(self) -> int:
        if self.close_batch:
            self.close_batch = False
            return 0
        return int(self.real.pending_msgs)

    async def next_msg(self, timeout: float = 1.0) -> Msg:
        due = [item for item in self.later if item[1] <= 0]
        if due:
            self.later.remove(due[0])
            return cast(Msg, due[0][0])
        try:
            msg = await self.real.next_msg(timeout=timeout)
        except nats.errors.TimeoutError:
            if not self.later:
                raise
            return cast(Msg, self.later.pop(0)[0])
        for item in self.later:
            item[1] -= 1
        fault = self.injected.roll()
        if fault == "duplicate":
            self.injected.duplicated += 1
            self.later.append([msg, self.injected.rng.randint(0, 3)])
        elif fault == "delay":
            self.injected.delayed += 1
            self.later.append([msg, self.injected.rng.randint(1, 3)])
            overtaking = await self.next_msg(timeout)
            self.close_batch = True
            return overtaking
        return msg

    async def unsubscribe(self) -> None:
        await self.real.unsubscribe()


def faulty(injected: Injected) -> OpenSource:
    """Opens the real source, wrapped so that it repeats and delays messages."""

    async def open_faulty(
        js: JetStreamContext, stream: str, subject: str, start: int, window: int
    ) -> MessageSource:
        return FaultySubscription(await ordered_pull(js, stream, subject, start, window), injected)

    return open_faulty


# --- a history on a real nats-server ----------------------------------------------------


async def publish(js: JetStreamContext, context: str, events: list[ContractEvent]) -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for n, event in enumerate(events):
        envelope = Envelope(
            f"{context}-{n}", f"/arc/{context}", event.event_type(), start + timedelta(minutes=n)
        )
        subject, body, headers = encode(event, envelope, PARTITIONS)
        await js.publish(subject, body, headers=headers, stream=stream_name(context))


def school_year(rng: random.Random) -> tuple[list[ContractEvent], list[ContractEvent]]:
    """Catalog events, then 600 attempts by 12 students on 3 outcomes with a few voids."""
    outcomes = [f"o-{n}" for n in range(3)]
    catalog: list[ContractEvent] = [
        OutcomeDefinedV1(outcome_id=o, code=o.upper(), statement="I can", scale=SCALE, revision=1)
        for o in outcomes
    ]
    evidence: list[ContractEvent] = []
    day0 = datetime(2026, 9, 1, tzinfo=UTC)
    for n in range(600):
        student, outcome = f"stu-{rng.randrange(12)}", rng.choice(outcomes)
        evidence.append(
            AttemptRecordedV1(
                attempt_id=f"att-{n}",
                student_id=student,
                outcome_id=outcome,
                outcome_revision=1,
                scale=SCALE,
                score=Decimal(rng.randint(1, 4)),
                assessed_at=day0 + timedelta(hours=rng.randrange(24 * 200)),
                recorded_at=day0 + timedelta(days=200, minutes=n),
                recorded_by="teacher",
            )
        )
        if n % 50 == 49:  # now and then a teacher voids an attempt
            voided = cast(AttemptRecordedV1, evidence[-2])
            evidence.append(
                AttemptVoidedV1(
                    attempt_id=voided.attempt_id,
                    student_id=voided.student_id,
                    outcome_id=voided.outcome_id,
                    reason="wrong student",
                    voided_by="teacher",
                    voided_at=day0 + timedelta(days=200, minutes=n),
                )
            )
    return catalog, evidence


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    stream = nc.jetstream()
    for context in ("catalog", "evidence", "mastery"):
        await ensure_stream(stream, context, duplicate_window_seconds=120)
    catalog, evidence = school_year(random.Random(11))
    await publish(stream, "catalog", catalog)
    await publish(stream, "evidence", evidence)
    yield stream
    await nc.close()


# --- running a projection's consumers until they reach the end of every stream --------


async def run_until_caught_up(
    consumers: list[TrackedConsumer], position_of: PositionOf, timeout: float = 60
) -> None:
    ends = {
        c.position_key: await last_sequence(c.js, c.context, c.filter_subject) for c in consumers
    }
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while any(position_of(key) < end for key, end in ends.items()):
            assert asyncio.get_running_loop().time() < deadline, "the consumers did not catch up"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def mastery_consumers(
    js: JetStreamContext, app: MasteryApplication, source: OpenSource
) -> list[TrackedConsumer]:
    found = []
    for partition in range(PARTITIONS):
        apply = functools.partial(app.apply_batch, partition)
        catalog_key = partition_position_key(stream_name("catalog"), partition)
        found.append(
            TrackedConsumer(
                js, "catalog", app.position, apply, position_key=catalog_key, open_source=source
            )
        )
        found.append(
            TrackedConsumer(
                js, "evidence", app.position, apply, partition=partition, open_source=source
            )
        )
    return found


def reporting_consumers(
    js: JetStreamContext, model: ReportingReadModel, source: OpenSource
) -> list[TrackedConsumer]:
    found = [TrackedConsumer(js, "catalog", model.position, model.apply, open_source=source)]
    for partition in range(PARTITIONS):
        for context in ("evidence", "mastery"):
            found.append(
                TrackedConsumer(
                    js,
                    context,
                    model.position,
                    model.apply,
                    partition=partition,
                    open_source=source,
                )
            )
    return found


clean: OpenSource = ordered_pull


def settings(tmp_path: Path, database_url: str | None, name: str) -> ServiceSettings:
    return ServiceSettings(
        service_name=name.split("_")[0],
        data_dir=tmp_path / name,
        database_url=database_url,
        database_schema=name,
    )


async def project_mastery(
    js: JetStreamContext, source: OpenSource, tmp_path: Path, database_url: str | None, name: str
) -> MasteryApplication:
    app = open_application(
        MasteryApplication, settings(tmp_path, database_url, name), partitions=PARTITIONS
    )
    await run_until_caught_up(mastery_consumers(js, app, source), app.position)
    return app


async def project_reporting(
    js: JetStreamContext, source: OpenSource, tmp_path: Path, database_url: str | None, name: str
) -> ReportingReadModel:
    model = ReportingReadModel(create_engine(settings(tmp_path, database_url, name)))
    await run_until_caught_up(reporting_consumers(js, model, source), model.position)
    return model


def standing_history(app: MasteryApplication) -> dict[tuple[str, str], list[Any]]:
    """Every pair's changes in order: before, after and cause (not when they were computed)."""
    history: dict[tuple[str, str], list[Any]] = {}
    for state in app.all_states():
        stored = app.history(state.student_id, state.outcome_id)
        changes = [
            published.mastery_changed(event)
            for event in stored
            if isinstance(event, StudentOutcomeMastery.StandingChanged)
        ]
        history[(state.student_id, state.outcome_id)] = [
            (c.before, c.after, c.cause.kind, c.cause.event_id) for c in changes
        ]
    return history


async def test_duplicated_and_late_messages_leave_mastery_unchanged(
    js: JetStreamContext, tmp_path: Path, database_url: str | None
) -> None:
    expected = await project_mastery(js, clean, tmp_path, database_url, "mastery_clean")
    injected = Injected(random.Random(3), budget=16)
    live = await project_mastery(js, faulty(injected), tmp_path, database_url, "mastery_faulty")

    assert injected.duplicated > 0 and injected.delayed > 0, "no fault was injected"
    assert live.all_states() == expected.all_states()
    assert standing_history(live) == standing_history(expected)
    # …and against the history itself: each attempt applied once, to its own pair.
    _, evidence = school_year(random.Random(11))
    sent = sorted(e.attempt_id for e in evidence if isinstance(e, AttemptRecordedV1))
    assert sorted(a for s in live.all_states() for a in s.attempt_ids) == sent
    expected.close()
    live.close()


async def test_duplicated_and_late_messages_leave_reporting_unchanged(
    js: JetStreamContext, tmp_path: Path, database_url: str | None
) -> None:
    mastery = await project_mastery(js, clean, tmp_path, database_url, "mastery_clean")
    relay = OutboxRelay(
        mastery,
        published.translate,
        js,
        "mastery",
        "/arc/mastery",
        partitions=PARTITIONS,
        chained=False,
    )
    while await relay.publish_pending():
        pass
    mastery.close()

    expected = await project_reporting(js, clean, tmp_path, database_url, "reporting_clean")
    injected = Injected(random.Random(5), budget=16)
    live = await project_reporting(js, faulty(injected), tmp_path, database_url, "reporting_faulty")

    assert injected.duplicated > 0 and injected.delayed > 0, "no fault was injected"
    content = live.content()
    assert content == expected.content()
    _, evidence = school_year(random.Random(11))
    assert len(content["attempts"]) == sum(isinstance(e, AttemptRecordedV1) for e in evidence)
    assert len(content["mastery_changes"]) == await last_sequence(js, "mastery")
