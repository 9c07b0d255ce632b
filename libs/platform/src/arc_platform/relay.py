"""Outbox relay: publishes what a service recorded, from its store's notification log, to JetStream.

The store is the outbox. The relay reads notifications after the last position it confirmed,
publishes each translated event with a stable ``Nats-Msg-Id`` (derived from the stored event's
identity), waits for every PubAck, and only then counts the batch as published; the new position
is written by the next pass, in one transaction with that pass's chain links (or alone when
there is nothing more, and when the relay stops). A crash between "published" and "position
recorded" re-sends a batch that JetStream's duplicate window drops, so downstream sees each event
exactly once.

Before publishing a batch, the relay records its links in the store's hash chains
(``arc_platform.audit``) and sends each message with ``Arc-Hash`` / ``Arc-Prev-Hash`` /
``Arc-Record-Digest`` headers; a re-sent message carries the links recorded the first time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from nats.js import JetStreamContext
from opentelemetry import trace

from arc_contracts import ContractEvent, Envelope, stream_name
from arc_platform import telemetry
from arc_platform.audit import Chainer, ChainStore, Link, Outgoing
from arc_platform.metrics import PlatformMetrics

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/events")

#: Translates a stored (private) domain event into a published contract event, or None to skip.
Translator = Callable[[Any], ContractEvent | None]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # a worker thread
        return None


def event_id(originator_id: UUID | str, originator_version: int) -> str:
    """Stable id of a stored event: the same every time the relay reads it."""
    return str(uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{originator_version}"))


@dataclass(frozen=True)
class _Sent:
    """A publish waiting for its PubAck."""

    subject: str
    stored_at: datetime
    ack: asyncio.Future[Any]


@dataclass(frozen=True)
class _Prepared:
    """A notification read from the store, translated (or not), not yet published."""

    outgoing: Outgoing
    domain_event: Any
    contract: ContractEvent | None
    envelope: Envelope | None


class OutboxRelay:
    def __init__(
        self,
        app: Application[Any],
        translate: Translator,
        js: JetStreamContext,
        context: str,
        source: str,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.2,
        ack_timeout_seconds: float = 10.0,
        partitions: int = 1,
        metrics: PlatformMetrics | None = None,
        chained: bool = True,
    ) -> None:
        """``chained``: keep the hash chains (in the store's own database; not for an
        in-memory store)."""
        self.app = app
        self.translate = translate
        self.js = js
        self.stream = stream_name(context)
        self.source = source
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.ack_timeout_seconds = ack_timeout_seconds
        #: Per-student events go to ``<subject>.p<k>`` (see ``arc_platform.partitions``).
        self.partitions = partitions
        self.tracker: TrackingRecorder = app.factory.tracking_recorder()
        self.tracking_name = f"relay:{self.stream}"
        self.published_count = 0
        self._wake = asyncio.Event()
        #: The loop ``run`` runs on: ``wake`` may be called from a worker thread (a projection
        #: commits its batch in one), and an asyncio event set from another thread does not
        #: wake the loop — the relay would sleep until its next poll.
        self._loop: asyncio.AbstractEventLoop | None = None
        #: What has been published and acknowledged, once read: this relay is the only writer
        #: of its position, so a pass need not query it (forgotten after a failure, to be read
        #: again from the store).
        self._position: int | None = None
        #: Acknowledged but not yet recorded: written by the next pass, with that pass's chain
        #: links in one transaction (a crash before it re-sends what JetStream's duplicate
        #: window drops, as a crash between publishing and recording always could).
        self._unrecorded: int | None = None
        self._tracer = telemetry.tracer("arc.relay")
        self.metrics = metrics or PlatformMetrics()
        #: Highest notification id already counted as recorded (no double count on retries).
        self._seen = 0
        chain = ChainStore.for_app(app) if chained else None
        self.chainer = Chainer(chain) if chain is not None else None

    def wake(self) -> None:
        """Called after a local write so the relay does not wait for its next poll; safe from
        any thread."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def confirmed_position(self) -> int:
        """The recorded position: beside the chain links when the relay keeps them (older
        releases recorded it as an eventsourcing tracking row, still read: the larger wins)."""
        recorded = self.tracker.max_tracking_id(self.tracking_name) or 0
        if self.chainer is not None:
            recorded = max(recorded, self.chainer.store.position(self.tracking_name))
        return recorded

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._forget()  # another replica may have relayed while this one did not
        while not stop.is_set():
            try:
                published = await self.publish_pending()
            except Exception:
                log.exception("relay %s failed; retrying from its confirmed position", self.stream)
                await asyncio.sleep(1.0)
                continue
            if published == 0:
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({waiter}, timeout=self.poll_seconds)
                waiter.cancel()
        await self._record_on_stop()

    async def _record_on_stop(self) -> None:
        """What the last pass published, so that a restart need not send it again."""
        unrecorded, self._unrecorded = self._unrecorded, None
        if unrecorded is None:
            return
        try:
            await asyncio.to_thread(self._record_position, unrecorded)
        except Exception:  # the next start re-sends it, and JetStream drops the copies
            log.warning("relay %s could not record its position on stop", self.stream)

    async def publish_pending(self) -> int:
        """One pass: publish up to one batch after the confirmed position. Returns how many
        notifications were covered (published or skipped)."""
        try:
            return await self._publish_batch()
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """Read the confirmed position and the chain's heads from the store again."""
        self._position = None
        self._unrecorded = None
        if self.chainer is not None:
            self.chainer.forget()

    async def _publish_batch(self) -> int:
        if self._position is None:
            self._position = await asyncio.to_thread(self.confirmed_position)
        position = self._position
        backlog = {"stream": self.stream}
        read = await asyncio.to_thread(self._read_and_chain, position, self._unrecorded)
        self._unrecorded = None  # recorded by that call
        if read is None:
            self.metrics.relay_backlog.set(0, backlog)
            return 0
        notifications, newest, prepared, links = read
        self.metrics.relay_backlog.set(max(0, newest - position), backlog)
        sent = [
            s
            for s in [await self._publish(p, link) for p, link in zip(prepared, links, strict=True)]
            if s is not None
        ]
        acks: list[Any] = []
        if sent:
            acks = await asyncio.wait_for(
                asyncio.gather(*(s.ack for s in sent)), self.ack_timeout_seconds
            )
        self._measure_published(sent, acks)
        last = notifications[-1].id
        self._position = self._unrecorded = last
        self.published_count += len(sent)
        self.metrics.relay_backlog.set(max(0, newest - last), backlog)
        return len(notifications)

    def _read_and_chain(
        self, position: int, unrecorded: int | None = None
    ) -> tuple[Sequence[Notification], int, list[_Prepared], list[Link | None]] | None:
        """In one worker-thread call (one hop off the event loop, not four): the notifications
        after ``position``, the newest stored id, each translated, and their chain links
        (recorded before anything is published, in one transaction with ``unrecorded``, the
        position the previous pass reached). None when there is nothing new."""
        notifications = self.app.recorder.select_notifications(
            position, self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            if unrecorded is not None:
                self._record_position(unrecorded)
            return None
        # A short batch reached the end of the log: the backlog is this batch (no query).
        newest: int = notifications[-1].id
        if len(notifications) == self.batch_size:
            newest = self.app.recorder.max_notification_id() or newest
        prepared = [self._prepare(n) for n in notifications]
        links: list[Link | None] = [None] * len(prepared)
        if self.chainer is not None:
            recorded = None if unrecorded is None else (self.tracking_name, unrecorded)
            links = list(self.chainer.extend([p.outgoing for p in prepared], recorded))
        elif unrecorded is not None:
            self._record_position(unrecorded)
        return notifications, newest, prepared, links

    def _record_position(self, position: int) -> None:
        if self.chainer is not None:
            self.chainer.store.add([], position=(self.tracking_name, position))
        else:
            self.tracker.insert_tracking(Tracking(self.tracking_name, position))

    def _measure_published(self, sent: list[_Sent], acks: list[Any]) -> None:
        now = time.time()
        for item, ack in zip(sent, acks, strict=True):
            duplicate = bool(getattr(ack, "duplicate", False))
            self.metrics.published.add(1, {"subject": item.subject, "duplicate": duplicate})
            self.metrics.relay_latency.record(
                max(0.0, now - item.stored_at.timestamp()), {"subject": item.subject}
            )

    def _prepare(self, notification: Notification) -> _Prepared:
        domain_event = self.app.mapper.to_domain_event(notification)
        contract = self.translate(domain_event)
        first_read = notification.id > self._seen
        self._seen = max(self._seen, notification.id)
        if contract is None:
            return _Prepared(Outgoing(notification), domain_event, None, None)
        if first_read:
            self.metrics.recorded.add(1, {"subject": contract.subject()})
        envelope = Envelope(
            id=event_id(notification.originator_id, notification.originator_version),
            source=self.source,
            type=contract.event_type(),
            time=domain_event.timestamp,  # type: ignore[attr-defined]
        )
        outgoing = Outgoing(
            notification, envelope.id, envelope.headers(), contract.model_dump_json().encode()
        )
        return _Prepared(outgoing, domain_event, contract, envelope)

    async def _publish(self, prepared: _Prepared, link: Link | None) -> _Sent | None:
        contract, envelope = prepared.contract, prepared.envelope
        if contract is None or envelope is None:
            return None
        parent = telemetry.context_from_traceparent(
            getattr(prepared.domain_event, "traceparent", None)
        )
        with self._tracer.start_as_current_span(
            f"publish {contract.subject()}", context=parent, kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", contract.subject())
            envelope = replace(envelope, traceparent=telemetry.current_traceparent() or None)
            span.set_attribute("messaging.message.id", envelope.id)
            # The body was serialised once in _prepare (and hashed into the chain from there).
            subject = contract.published_subject(self.partitions)
            body, headers = prepared.outgoing.body or b"", envelope.headers()
            if link is not None:
                headers.update(link.headers())
            future: asyncio.Future[Any] = await self.js.publish_async(
                subject, body, headers=headers, stream=self.stream
            )
            return _Sent(contract.subject(), envelope.time, future)
