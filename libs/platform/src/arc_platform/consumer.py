"""Tracked consumer: applies a JetStream stream strictly in order, from the position its owner
recorded, handing batches to a callback that must record the new position atomically with its
effects.

Why not a durable consumer with acks: with many messages in flight, redeliveries after a crash
arrive after newer messages and a "skip what is at or below my position" rule then loses them
(see ../shared/NOTES.md). Instead the position lives only in the consumer's own database; on
start, and after any error, it reads from position + 1 with an ephemeral, no-ack pull consumer
(``OrderedPull``) that never has more than a window of messages requested or waiting. The
consumer checks the delivery numbers (``_Cursor``): a message skipped, repeated or delivered
late, after newer ones, makes it start again from its position instead of being lost.

Why pull, not nats-py's ordered push consumer: the server widens a push consumer's flow-control
window up to 32 MB whenever the client keeps answering, so a projection slower than the stream
(every rebuild) ended up holding tens of thousands of decoded messages (~3.7 KB each) in the
client's queue: most of a rebuild's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace

from arc_contracts import ContractEvent, Envelope, MalformedMessage, decode, stream_subjects
from arc_contracts import stream_name as stream_of
from arc_platform import heap, telemetry
from arc_platform.metrics import PlatformMetrics
from arc_platform.partitions import partition_filter, partition_position_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One message of a stream, decoded; ``problem`` says why it could not be."""

    stream: str
    sequence: int
    subject: str
    envelope: Envelope | None
    event: ContractEvent | None
    problem: str | None = None
    #: Under which name the consumer's owner records its position: the stream, or the stream
    #: and partition (``ARC_EVIDENCE.p3``) when a consumer reads one partition of it.
    position_key: str = ""

    @property
    def tracking_name(self) -> str:
        return self.position_key or self.stream


#: Applies deliveries (in stream order) and records ``deliveries[-1].sequence`` atomically.
ApplyBatch = Callable[[list[Delivery]], None]
#: The last sequence of ``stream`` its owner has applied (0 when none).
PositionOf = Callable[[str], int]


def to_delivery(msg: Msg, position_key: str = "") -> Delivery:
    meta = msg.metadata
    try:
        envelope, event = decode(msg.headers, msg.data)
    except MalformedMessage as exc:
        return Delivery(
            meta.stream, meta.sequence.stream, msg.subject, None, None, str(exc), position_key
        )
    return Delivery(
        meta.stream, meta.sequence.stream, msg.subject, envelope, event, None, position_key
    )


def contract_subject(delivery: Delivery) -> str:
    """The event's subject without its partition (what spans and metrics are named by)."""
    return delivery.event.subject() if delivery.event is not None else delivery.subject


@contextmanager
def consuming_span(delivery: Delivery) -> Iterator[trace.Span]:
    """A CONSUMER span, child of the span that published the message."""
    parent = telemetry.context_from_traceparent(
        delivery.envelope.traceparent if delivery.envelope else None
    )
    with telemetry.tracer("arc.consumer").start_as_current_span(
        f"process {contract_subject(delivery)}", context=parent, kind=trace.SpanKind.CONSUMER
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.destination.name", delivery.subject)
        span.set_attribute("messaging.nats.stream_sequence", delivery.sequence)
        yield span


@contextmanager
def replaying_span(batch: Sequence[Delivery]) -> Iterator[trace.Span]:
    """One span around a batch a rebuild replays, in place of a CONSUMER span per message: a
    rebuild of a network's history would otherwise send the trace store one span per event it
    ever recorded, each hanging from a trace long finished (and spend ~6 % of the replay on
    them)."""
    first, last = batch[0], batch[-1]
    with telemetry.tracer("arc.consumer").start_as_current_span(
        f"replay {first.stream}", kind=trace.SpanKind.INTERNAL
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.batch.message_count", len(batch))
        span.set_attribute("arc.replay.first_sequence", first.sequence)
        span.set_attribute("arc.replay.last_sequence", last.sequence)
        yield span


def apply_in_order(
    batch: Sequence[Delivery],
    apply: Callable[[ContractEvent, Envelope, Delivery], None],
    *,
    replaying: bool,
) -> None:
    """Apply each delivery of ``batch`` in order, inside its span: a CONSUMER span per message,
    child of the publisher's (live), or one replay span around the batch (a rebuild). A
    malformed message is logged and skipped: it would fail the same way on every retry."""
    if replaying:
        with replaying_span(batch):
            for delivery in batch:
                _apply_decoded(delivery, apply)
    else:
        for delivery in batch:
            with consuming_span(delivery):
                _apply_decoded(delivery, apply)


def _apply_decoded(
    delivery: Delivery, apply: Callable[[ContractEvent, Envelope, Delivery], None]
) -> None:
    if delivery.event is None or delivery.envelope is None:
        log.error(
            "skipped malformed message %s#%s: %s",
            delivery.stream,
            delivery.sequence,
            delivery.problem,
        )
        return
    apply(delivery.event, delivery.envelope, delivery)


class MessageSource(Protocol):
    """What a tracked consumer reads: messages in stream order."""

    @property
    def pending_msgs(self) -> int:
        """Messages received and not taken yet."""
        ...

    async def next_msg(self, timeout: float = 1.0) -> Msg: ...

    async def unsubscribe(self) -> None: ...


class ConsumerStalled(RuntimeError):
    """The server stopped answering the pull consumer (restarted, consumer gone)."""


class OrderedPull:
    """An ephemeral, no-ack pull consumer of one stream (and filter) from a start sequence, read
    in order. It asks for more only while fewer than ``window`` messages are requested or
    waiting to be taken, so memory stays bounded however slow the reader is. The server sends
    a heartbeat while a request waits with nothing to deliver; silence for three heartbeats
    means the consumer is gone (a restarted server) and ``next_msg`` raises
    ``ConsumerStalled``: the tracked consumer then starts again from its recorded position."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        filter_subject: str,
        start_sequence: int,
        *,
        window: int = 500,
        heartbeat: float = 1.0,
        expires: float = 30.0,
    ) -> None:
        self.js = js
        self.nc = js._nc  # the connection the JetStream context was made from
        self.stream = stream
        self.filter_subject = filter_subject
        self.start_sequence = start_sequence
        self.window = window
        self.heartbeat = heartbeat
        self.expires = expires
        self.name = f"arc-{uuid.uuid4().hex[:16]}"
        self._ready: asyncio.Queue[Msg] = asyncio.Queue()
        #: Messages asked for by requests still open on the server and not received yet.
        self._requested = 0
        self._heard_at = time.monotonic()
        self._failure: str | None = None
        self._inbox = ""
        self._subscription: Subscription | None = None

    async def start(self) -> OrderedPull:
        await self.js.add_consumer(
            self.stream,
            ConsumerConfig(
                name=self.name,
                filter_subject=self.filter_subject,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.start_sequence,
                ack_policy=AckPolicy.NONE,
                # Gone by itself if this process dies without deleting it.
                inactive_threshold=300.0,
                mem_storage=True,
                num_replicas=1,
            ),
        )
        self._inbox = self.nc.new_inbox()
        self._subscription = await self.nc.subscribe(self._inbox, cb=self._received)
        self._heard_at = time.monotonic()
        await self._ask_for_more()
        return self

    @property
    def pending_msgs(self) -> int:
        return self._ready.qsize()

    async def next_msg(self, timeout: float = 1.0) -> Msg:
        if self._failure is not None:
            raise ConsumerStalled(f"{self.stream}: {self._failure}")
        try:
            msg = self._ready.get_nowait()
        except asyncio.QueueEmpty:
            try:
                msg = await asyncio.wait_for(self._ready.get(), timeout)
            except TimeoutError:
                silent = time.monotonic() - self._heard_at
                if silent > 3 * self.heartbeat:
                    raise ConsumerStalled(
                        f"{self.stream}: no message or heartbeat for {silent:.1f} s"
                    ) from None
                raise nats.errors.TimeoutError from None
        await self._ask_for_more()
        return msg

    async def _ask_for_more(self) -> None:
        wanted = self.window - self._requested - self._ready.qsize()
        if wanted < self.window // 2:
            return
        self._requested += wanted
        self._heard_at = time.monotonic()  # the server answers, or beats, within a heartbeat
        request = {
            "batch": wanted,
            "expires": int(self.expires * 1e9),
            "idle_heartbeat": int(self.heartbeat * 1e9),
        }
        subject = f"{self.js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.name}"
        await self.nc.publish(subject, json.dumps(request).encode(), reply=self._inbox)

    async def _received(self, msg: Msg) -> None:
        self._heard_at = time.monotonic()
        status = msg.headers.get("Status") if msg.headers else None
        if not status:
            self._requested = max(0, self._requested - 1)
            self._ready.put_nowait(msg)
            return
        if status == "408":  # a request expired: what it did not deliver is not coming
            assert msg.headers is not None
            left = int(msg.headers.get("Nats-Pending-Messages", "0"))
            self._requested = max(0, self._requested - left)
            await self._ask_for_more()
        elif status != "100":  # 100: heartbeat
            description = msg.headers.get("Description", "") if msg.headers else ""
            self._failure = f"pull request answered {status} {description}".strip()

    async def unsubscribe(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        try:
            await self.js.delete_consumer(self.stream, self.name)
        except Exception:
            log.debug("could not delete consumer %s of %s", self.name, self.stream)


#: Opens the message source of a tracked consumer from a start sequence.
OpenSource = Callable[[JetStreamContext, str, str, int, int], Awaitable[MessageSource]]


async def ordered_pull(
    js: JetStreamContext, stream: str, filter_subject: str, start_sequence: int, window: int
) -> MessageSource:
    return await OrderedPull(js, stream, filter_subject, start_sequence, window=window).start()


class _Cursor:
    """Where one subscription stands: the last stream sequence taken (the recorded position to
    begin with) and the last consumer sequence delivered.

    Stream sequences of a filtered (partition) subscription have gaps, so a message that comes
    late, after newer ones, cannot be told from a gap by its stream sequence; once the newer
    ones are committed it would be lost. The server numbers a consumer's deliveries 1, 2, 3…:
    anything else means a message was skipped, repeated or reordered, and the consumer starts
    again from its recorded position."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.delivered = 0

    def advance(self, stream: str, sequence: int, consumer_sequence: int) -> None:
        if sequence <= self.position:
            raise RuntimeError(f"{stream}: got sequence {sequence} at position {self.position}")
        if consumer_sequence not in (self.delivered + 1, 1):
            raise RuntimeError(
                f"{stream}: delivery {consumer_sequence} after {self.delivered} (sequence "
                f"{sequence}): a message was skipped or came out of order"
            )
        self.position = sequence
        self.delivered = consumer_sequence


_live: weakref.WeakSet[TrackedConsumer] = weakref.WeakSet()
#: Those running now: whether the process has caught up is theirs to say (one stopped behind,
#: its partition taken over, has no lag to make up here).
_running: set[TrackedConsumer] = set()


def live_consumers() -> list[TrackedConsumer]:
    """The tracked consumers of this process (for readiness)."""
    return list(_live)


class TrackedConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        context: str,
        position_of: PositionOf,
        apply_batch: ApplyBatch,
        *,
        max_batch: int = 500,
        metrics: PlatformMetrics | None = None,
        partition: int | None = None,
        position_key: str | None = None,
        open_source: OpenSource = ordered_pull,
        linger: float = 0.0,
    ) -> None:
        """``partition``: read only that partition of a partitioned stream (see
        ``arc_platform.partitions``); the position is then kept per partition.
        ``position_key``: the name the position is kept under, when one owner consumes the
        same stream more than once (e.g. a copy of the catalog per partition).
        ``linger``: after a batch's first message, wait up to this many seconds for more
        before applying (a view that may be a moment behind trades that for fewer, larger
        transactions: at a steady trickle each message otherwise costs a whole batch)."""
        self.js = js
        self.context = context
        self.stream = stream_of(context)
        self.partition = partition
        self.filter_subject = (
            stream_subjects(context) if partition is None else partition_filter(context, partition)
        )
        self.position_key = position_key or (
            self.stream if partition is None else partition_position_key(self.stream, partition)
        )
        self.position_of = position_of
        self.apply_batch = apply_batch
        self.max_batch = max_batch
        self.open_source = open_source
        self.linger = linger
        self.applied_count = 0
        self.metrics = metrics or PlatformMetrics()
        #: Messages on this consumer's subjects after the last one received (JetStream's
        #: ``num_pending``, from each message's metadata).
        self.pending_after_received = 0
        #: Messages on this consumer's subjects not applied yet (see arc.consumer.lag).
        self.lag = 0
        _live.add(self)

    async def run(self, stop: asyncio.Event) -> None:
        _running.add(self)
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except Exception:
                    log.exception("consumer of %s failed; resuming from its position", self.stream)
                    await asyncio.sleep(1.0)
        finally:
            _running.discard(self)

    async def _consume(self, stop: asyncio.Event) -> None:
        position = await asyncio.to_thread(self.position_of, self.position_key)
        subscription = await self.open_source(
            self.js, self.stream, self.filter_subject, position + 1, self.max_batch
        )
        cursor = _Cursor(position)
        try:
            while not stop.is_set():
                batch = await self._next_batch(subscription, cursor)
                if not batch:
                    continue
                # Received, not yet applied: lag until the batch commits (or stays, if it fails).
                self._set_lag(len(batch) + self.pending_after_received)
                await asyncio.to_thread(self.apply_batch, batch)
                self.applied_count += len(batch)
                self._measure_applied(batch)
                caught_up = all(consumer.lag == 0 for consumer in list(_running))
                if heap.after_backlog.applied(len(batch), caught_up):
                    # What the backlog's batches freed, handed back (see ``arc_platform.heap``).
                    await asyncio.to_thread(heap.release_free_heap)
        finally:
            await subscription.unsubscribe()

    async def _next_batch(self, subscription: MessageSource, cursor: _Cursor) -> list[Delivery]:
        try:
            first = await subscription.next_msg(timeout=0.5)
        except nats.errors.TimeoutError:
            return []
        messages = [first]
        while len(messages) < self.max_batch and subscription.pending_msgs > 0:
            messages.append(await subscription.next_msg(timeout=1.0))
        if self.linger > 0:
            loop = asyncio.get_running_loop()
            until = loop.time() + self.linger
            while len(messages) < self.max_batch and (left := until - loop.time()) > 0:
                try:
                    messages.append(await subscription.next_msg(timeout=left))
                except nats.errors.TimeoutError:
                    break
        batch: list[Delivery] = []
        for msg in messages:
            meta = msg.metadata
            self.pending_after_received = int(meta.num_pending or 0)
            delivery = to_delivery(msg, self.position_key)
            cursor.advance(self.stream, delivery.sequence, int(meta.sequence.consumer))
            batch.append(delivery)
        return batch

    def _measure_applied(self, batch: list[Delivery]) -> None:
        """Count what was committed, how long after its source stored it, and the lag left."""
        now = time.time()
        for subject, count in Counter(contract_subject(d) for d in batch).items():
            self.metrics.consumed.add(count, {"subject": subject, "stream": self.stream})
        for delivery in batch:
            if delivery.envelope is not None:
                self.metrics.projection_latency.record(
                    max(0.0, now - delivery.envelope.time.timestamp()),
                    {"subject": contract_subject(delivery), "stream": self.stream},
                )
        self._set_lag(self.pending_after_received)

    def _set_lag(self, not_applied: int) -> None:
        """Lag: messages on this consumer's subjects it has not applied yet (for a consumer of a
        whole stream, the stream's last sequence minus the position)."""
        self.lag = not_applied
        attributes = {"stream": self.stream, "consumer": self.position_key}
        self.metrics.consumer_lag.set(not_applied, attributes)
