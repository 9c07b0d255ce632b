"""An operator watches the pipeline's metrics: what was recorded, published and consumed per
subject, how far behind a consumer is, how long events take to be applied, and what the relay
still has to publish. Real nats-server, real stores; the metrics go to an in-memory reader."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest
import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from arc_contracts import AttemptRecordedV1, ContractEvent, ProficiencyScaleV1, ScaleLevelV1
from arc_platform.bus import ensure_stream, last_sequence
from arc_platform.consumer import Delivery, TrackedConsumer
from arc_platform.metrics import PlatformMetrics
from arc_platform.relay import OutboxRelay
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import TrackedView, create_engine

SUBJECT = AttemptRecordedV1.subject()
SCALE = ProficiencyScaleV1(
    name="1-4",
    levels=tuple(ScaleLevelV1(value=Decimal(v), label=f"L{v}") for v in range(1, 5)),
    mastery_threshold=Decimal(3),
)


class Gradebook(Aggregate):
    """A teacher's gradebook: its creation is private, each noted attempt is published."""

    @event("Opened")
    def __init__(self, teacher: str) -> None:
        self.teacher = teacher

    class AttemptNoted(Aggregate.Event):
        student_id: str
        attempt_id: str
        score: int

    @event(AttemptNoted)
    def note(self, student_id: str, attempt_id: str, score: int) -> None:
        pass


class GradebookApp(Application[UUID]):
    name = "gradebook"


def translate(domain_event: Any) -> ContractEvent | None:
    if not isinstance(domain_event, Gradebook.AttemptNoted):
        return None
    return AttemptRecordedV1(
        attempt_id=domain_event.attempt_id,
        student_id=domain_event.student_id,
        outcome_id="math.6.rp.1",
        outcome_revision=1,
        scale=SCALE,
        score=Decimal(domain_event.score),
        assessed_at=domain_event.timestamp,
        recorded_at=domain_event.timestamp,
        recorded_by="teacher-ada",
    )


class Readings:
    """The metrics an exporter would receive, read from an in-memory reader."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.metrics = PlatformMetrics(self.provider.get_meter("test"))

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        data = self.reader.get_metrics_data()
        found: dict[frozenset[tuple[str, Any]], Any] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            found[frozenset((point.attributes or {}).items())] = point
        return found

    def value(self, name: str, **attributes: Any) -> Any:
        point = self.points(name).get(frozenset(attributes.items()))
        return None if point is None else point.value


@pytest.fixture
def readings() -> Iterator[Readings]:
    found = Readings()
    yield found
    found.provider.shutdown()


def gradebook(tmp_path: Path, database_url: str | None) -> GradebookApp:
    settings = ServiceSettings(
        service_name="gradebook", data_dir=tmp_path, database_url=database_url
    )
    return open_application(GradebookApp, settings)


def note_attempts(app: GradebookApp, students: list[str]) -> None:
    """One gradebook per call (a private "Opened" event), then one attempt per student."""
    book = Gradebook(teacher="ada")
    for n, student in enumerate(students):
        book.note(student_id=student, attempt_id=str(uuid4()), score=1 + n % 4)
    app.save(book)


async def jetstream(nats_url: str) -> tuple[Client, JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, "evidence", duplicate_window_seconds=600)
    return nc, js


async def test_relay_counts_recorded_and_published_events_and_its_backlog(
    nats_url: str, tmp_path: Path, database_url: str | None, readings: Readings
) -> None:
    nc, js = await jetstream(nats_url)
    app = gradebook(tmp_path, database_url)
    # 2 gradebooks: 2 private "Opened" events and 5 attempts, 7 notifications in all.
    note_attempts(app, ["stu-1", "stu-2", "stu-3"])
    note_attempts(app, ["stu-4", "stu-5"])
    relay = OutboxRelay(
        app, translate, js, "evidence", "/arc/gradebook", batch_size=4, metrics=readings.metrics
    )

    await relay.publish_pending()  # notifications 1-4: Opened + 3 attempts
    assert readings.value("arc.events.recorded", subject=SUBJECT) == 3
    assert readings.value("arc.events.published", subject=SUBJECT, duplicate=False) == 3
    assert readings.value("arc.relay.backlog", stream="ARC_EVIDENCE") == 3

    await relay.publish_pending()  # notifications 5-7
    assert readings.value("arc.events.recorded", subject=SUBJECT) == 5
    assert readings.value("arc.events.published", subject=SUBJECT, duplicate=False) == 5
    assert readings.value("arc.relay.backlog", stream="ARC_EVIDENCE") == 0
    assert await last_sequence(js, "evidence") == 5
    (latency,) = readings.points("arc.relay.latency").values()
    assert latency.count == 5 and 0 <= latency.min <= latency.max < 30

    # A crash after the PubAcks but before the position is recorded (the next pass records
    # it, here alone as nothing more was written): the batch is re-sent, JetStream drops it as
    # duplicates, and nothing is counted as recorded twice.
    note_attempts(app, ["stu-6", "stu-7"])
    await relay.publish_pending()
    assert relay.chainer is not None
    chain = relay.chainer.store
    recording = chain.add

    def crash_once(*args: Any, **kwargs: Any) -> None:
        chain.add = recording  # type: ignore[method-assign]
        raise ConnectionError("database went away")

    chain.add = crash_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    assert relay.confirmed_position() == 7
    await relay.publish_pending()
    assert readings.value("arc.events.recorded", subject=SUBJECT) == 7
    assert readings.value("arc.events.published", subject=SUBJECT, duplicate=False) == 7
    assert readings.value("arc.events.published", subject=SUBJECT, duplicate=True) == 2
    assert readings.value("arc.relay.backlog", stream="ARC_EVIDENCE") == 0
    assert await last_sequence(js, "evidence") == 7
    app.close()
    await nc.close()


attempts_seen = sa.MetaData()
seen = sa.Table(
    "seen",
    attempts_seen,
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("subject", sa.String(200), nullable=False),
)


async def test_consumer_counts_applied_events_and_reports_lag_and_latency(
    nats_url: str, tmp_path: Path, database_url: str | None, readings: Readings
) -> None:
    nc, js = await jetstream(nats_url)
    app = gradebook(tmp_path, database_url)
    note_attempts(app, [f"stu-{n}" for n in range(10)])
    relay = OutboxRelay(app, translate, js, "evidence", "/arc/gradebook")
    await relay.publish_pending()
    assert await last_sequence(js, "evidence") == 10

    settings = ServiceSettings(service_name="report", data_dir=tmp_path, database_url=database_url)
    view = TrackedView(create_engine(settings), attempts_seen)
    held = threading.Event()
    held.set()

    def apply(batch: list[Delivery]) -> None:
        """A projection that cannot get past sequence 4 while ``held`` (e.g. its database is
        read-only for a moment): each try fails, and the consumer retries a second later."""
        with view.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                if delivery.sequence > 4 and held.is_set():
                    raise PermissionError("read-only for a moment")
                conn.execute(sa.insert(seen).values(sequence=delivery.sequence, subject=SUBJECT))

    consumer = TrackedConsumer(
        js, "evidence", view.position, apply, max_batch=2, metrics=readings.metrics
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: view.position("ARC_EVIDENCE") == 4, "the first 4 to be applied")
        await until(
            lambda: (
                readings.value("arc.consumer.lag", stream="ARC_EVIDENCE", consumer="ARC_EVIDENCE")
                == 6
            ),
            "a lag of 6 while held",
        )
        assert readings.value("arc.events.consumed", subject=SUBJECT, stream="ARC_EVIDENCE") == 4

        held.clear()
        await until(lambda: view.position("ARC_EVIDENCE") == 10, "all 10 to be applied")
        await until(
            lambda: (
                readings.value("arc.consumer.lag", stream="ARC_EVIDENCE", consumer="ARC_EVIDENCE")
                == 0
            ),
            "no lag",
        )
        assert readings.value("arc.events.consumed", subject=SUBJECT, stream="ARC_EVIDENCE") == 10
        (latency,) = readings.points("arc.projection.latency").values()
        assert latency.count == 10
        # Measured from when each attempt was stored (ce-time): the 6 held back waited at least
        # one retry interval (1 s) before they were applied.
        assert latency.max >= 1.0 and latency.sum >= 6 * 1.0
        assert latency.min >= 0
    finally:
        stop.set()
        await task
        app.close()
        await nc.close()


async def until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
