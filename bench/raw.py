"""The hardware's own limits, measured with bare nats-py and bare eventsourcing."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import nats
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from arc_platform.settings import ServiceSettings
from arc_platform.store import ensure_postgres_schema

PAYLOAD = b"x" * 600  # about the size of an AttemptRecorded body


async def jetstream_publish_rate(
    nats_url: str, messages: int = 20_000, in_flight: int = 512
) -> float:
    """Acked async publishes per second to a file-backed stream, many in flight."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=in_flight)
    await js.add_stream(
        StreamConfig(
            name="BENCH_RAW",
            subjects=["bench.raw.>"],
            storage=StorageType.FILE,
            duplicate_window=120.0,
        )
    )
    started = time.perf_counter()
    futures = []
    for n in range(messages):
        futures.append(
            await js.publish_async(
                f"bench.raw.{n % 16}", PAYLOAD, headers={"Nats-Msg-Id": f"raw-{n}"}
            )
        )
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await js.delete_stream("BENCH_RAW")
    await nc.close()
    return messages / elapsed


async def jetstream_read_rate(nats_url: str, messages: int = 20_000, batch: int = 500) -> float:
    """Messages per second a bare pull consumer (no acks; the next ``batch`` asked for while
    one is still arriving, as a rebuild's consumer asks) takes from a file-backed stream,
    doing nothing with them: the most any projection fed by the bus can replay, however little
    it does. It speaks the pull protocol on a plain subscription (nats-py's own ``fetch``
    waits on each message in turn and is several times slower)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=512)
    await js.add_stream(
        StreamConfig(name="BENCH_READ", subjects=["bench.read.>"], storage=StorageType.FILE)
    )
    futures = [await js.publish_async(f"bench.read.{n % 16}", PAYLOAD) for n in range(messages)]
    await asyncio.gather(*futures)
    await js.add_consumer(
        "BENCH_READ",
        ConsumerConfig(
            name="bench-read", ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL
        ),
    )
    taken = 0
    done = asyncio.Event()
    batch_taken = asyncio.Queue[None]()

    async def take(msg: Any) -> None:
        nonlocal taken
        if not msg.data:  # a status (no more messages now): not one of the stream's
            return
        taken += 1
        if taken % batch == 0:
            batch_taken.put_nowait(None)
        if taken >= messages:
            done.set()

    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox, cb=take)
    request = json.dumps({"batch": batch, "expires": 10_000_000_000}).encode()
    subject = "$JS.API.CONSUMER.MSG.NEXT.BENCH_READ.bench-read"
    started = time.perf_counter()
    for _ in range(2):  # one batch arriving, the next already asked for
        await nc.publish(subject, request, reply=inbox)
    while not done.is_set():
        getting = asyncio.ensure_future(batch_taken.get())
        finished = asyncio.ensure_future(done.wait())
        await asyncio.wait({getting, finished}, return_when=asyncio.FIRST_COMPLETED)
        getting.cancel()
        finished.cancel()
        if not done.is_set():
            await nc.publish(subject, request, reply=inbox)
    elapsed = time.perf_counter() - started
    await subscription.unsubscribe()
    await js.delete_stream("BENCH_READ")
    await nc.close()
    return messages / elapsed


class Probe(Aggregate):
    @event("Noted")
    def __init__(self, payload: str) -> None:
        self.payload = payload


class RawStore(Application[UUID]):
    name = "bench_raw"


@dataclass(frozen=True)
class StoreRates:
    batched_append: float  # events/s, ten events per commit
    bulk_append: float  # events/s, 500 events per commit (a rebuild's batch: the most it gains)
    single_append: float  # events/s, one event per commit
    decoded_read: float  # events/s read back from the notification log and decoded


def store_rates(data_dir: Path, database_url: str | None, events: int = 5_000) -> StoreRates:
    settings = ServiceSettings(
        service_name="bench_raw",
        data_dir=data_dir,
        database_url=database_url,
        database_schema="bench_raw",
    )
    ensure_postgres_schema(settings)
    # Bare eventsourcing: the library's own transcoder, not the services' (orjson) one.
    app = RawStore(
        env={
            **settings.eventsourcing_env(),
            "TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder",
        }
    )
    payload = PAYLOAD.decode()
    started = time.perf_counter()
    for _ in range(events // 10):
        app.save(*[Probe(payload=payload) for _ in range(10)])
    batched = events / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(max(1, events // 500)):
        app.save(*[Probe(payload=payload) for _ in range(500)])
    bulk = max(1, events // 500) * 500 / (time.perf_counter() - started)
    singles = max(200, events // 5)
    started = time.perf_counter()
    for _ in range(singles):
        app.save(Probe(payload=payload))
    single = singles / (time.perf_counter() - started)
    total = 0
    started = time.perf_counter()
    position = 0
    while True:
        notes = app.recorder.select_notifications(position, 1000, inclusive_of_start=False)
        if not notes:
            break
        for note in notes:
            app.mapper.to_domain_event(note)
        total += len(notes)
        position = notes[-1].id
    read = total / (time.perf_counter() - started)
    app.close()
    return StoreRates(batched, bulk, single, read)


def new_id() -> str:
    return str(uuid4())
