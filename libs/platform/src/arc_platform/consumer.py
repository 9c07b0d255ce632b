"""Tracked consumer: applies a JetStream stream strictly in order, from the position its owner
recorded, handing batches to a callback that must record the new position atomically with its
effects.

Why not a durable consumer with acks: with many messages in flight, redeliveries after a crash
arrive after newer messages and a "skip what is at or below my position" rule then loses them
(see ../shared/NOTES.md). Instead the position lives only in the consumer's own database; on
start, and after any error, it reads from position + 1 with an ordered (ephemeral,
flow-controlled) consumer, which the client library resets itself on a gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import trace

from arc_contracts import ContractEvent, Envelope, MalformedMessage, decode, stream_subjects
from arc_contracts import stream_name as stream_of
from arc_platform import telemetry
from arc_platform.metrics import PlatformMetrics

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


#: Applies deliveries (in stream order) and records ``deliveries[-1].sequence`` atomically.
ApplyBatch = Callable[[list[Delivery]], None]
#: The last sequence of ``stream`` its owner has applied (0 when none).
PositionOf = Callable[[str], int]


def to_delivery(msg: Msg) -> Delivery:
    meta = msg.metadata
    try:
        envelope, event = decode(msg.headers, msg.data)
    except MalformedMessage as exc:
        return Delivery(meta.stream, meta.sequence.stream, msg.subject, None, None, str(exc))
    return Delivery(meta.stream, meta.sequence.stream, msg.subject, envelope, event)


@contextmanager
def consuming_span(delivery: Delivery) -> Iterator[trace.Span]:
    """A CONSUMER span, child of the span that published the message."""
    parent = telemetry.context_from_traceparent(
        delivery.envelope.traceparent if delivery.envelope else None
    )
    with telemetry.tracer("arc.consumer").start_as_current_span(
        f"process {delivery.subject}", context=parent, kind=trace.SpanKind.CONSUMER
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.destination.name", delivery.subject)
        span.set_attribute("messaging.nats.stream_sequence", delivery.sequence)
        yield span


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
        lag_refresh_seconds: float = 5.0,
    ) -> None:
        self.js = js
        self.context = context
        self.stream = stream_of(context)
        self.position_of = position_of
        self.apply_batch = apply_batch
        self.max_batch = max_batch
        self.applied_count = 0
        self.metrics = metrics or PlatformMetrics()
        self.lag_refresh_seconds = lag_refresh_seconds
        #: The stream's last sequence as last seen (message metadata or stream info).
        self.stream_last_sequence = 0
        self._lag_checked_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception:
                log.exception("consumer of %s failed; resuming from its position", self.stream)
                await asyncio.sleep(1.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        position = await asyncio.to_thread(self.position_of, self.stream)
        await self._refresh_lag(position)
        subscription = await self.js.subscribe(
            stream_subjects(self.context),
            stream=self.stream,
            ordered_consumer=True,
            idle_heartbeat=2.0,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=position + 1
            ),
        )
        try:
            while not stop.is_set():
                batch = await self._next_batch(subscription, position)
                if not batch:
                    if time.monotonic() - self._lag_checked_at >= self.lag_refresh_seconds:
                        await self._refresh_lag(position)
                    continue
                await asyncio.to_thread(self.apply_batch, batch)
                position = batch[-1].sequence
                self.applied_count += len(batch)
                self._measure_applied(batch)
        finally:
            await subscription.unsubscribe()

    async def _next_batch(
        self, subscription: JetStreamContext.PushSubscription, position: int
    ) -> list[Delivery]:
        try:
            first = await subscription.next_msg(timeout=0.5)
        except nats.errors.TimeoutError:
            return []
        messages = [first]
        while len(messages) < self.max_batch and subscription.pending_msgs > 0:
            messages.append(await subscription.next_msg(timeout=1.0))
        batch: list[Delivery] = []
        for msg in messages:
            meta = msg.metadata
            self.stream_last_sequence = max(
                self.stream_last_sequence, meta.sequence.stream + (meta.num_pending or 0)
            )
            delivery = to_delivery(msg)
            if delivery.sequence <= position:
                raise RuntimeError(
                    f"{self.stream}: got sequence {delivery.sequence} at position {position}"
                )
            position = delivery.sequence
            batch.append(delivery)
        return batch

    def _measure_applied(self, batch: list[Delivery]) -> None:
        """Count what was committed, how long after its source stored it, and the lag left."""
        now = time.time()
        for subject, count in Counter(d.subject for d in batch).items():
            self.metrics.consumed.add(count, {"subject": subject, "stream": self.stream})
        for delivery in batch:
            if delivery.envelope is not None:
                self.metrics.projection_latency.record(
                    max(0.0, now - delivery.envelope.time.timestamp()),
                    {"subject": delivery.subject, "stream": self.stream},
                )
        self._set_lag(batch[-1].sequence)

    async def _refresh_lag(self, position: int) -> None:
        """Ask the stream for its last sequence (when idle, or before subscribing)."""
        self._lag_checked_at = time.monotonic()
        try:
            info = await self.js.stream_info(self.stream)
        except Exception as exc:  # lag is informative; consuming goes on without it
            log.debug("no stream info for %s: %s", self.stream, exc)
            return
        self.stream_last_sequence = int(info.state.last_seq)
        self._set_lag(position)

    def _set_lag(self, position: int) -> None:
        lag = max(0, self.stream_last_sequence - position)
        self.metrics.consumer_lag.set(lag, {"stream": self.stream})
