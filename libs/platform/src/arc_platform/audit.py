"""Tamper evidence: hash chains over what each service stores and publishes, and the command that
verifies them.

Two chains, both written by the outbox relay (``arc_platform.relay``) into table
``arc_event_chain`` of the service's event store, one row per stored event, in notification
order:

- the **store chain** links every stored event: ``store_hash = H(store_prev, record_digest)``,
  where ``record_digest`` covers the stored record exactly as kept (originator, version, topic,
  state bytes);
- the **stream chain** links the published events only:
  ``hash = H(prev, record_digest, message_digest)``, where ``message_digest`` covers the published
  message (CloudEvents id, type, source, time and body). Each message carries ``Arc-Hash``,
  ``Arc-Prev-Hash`` and ``Arc-Record-Digest`` headers, so a stream can be checked on its own.

A link, once recorded, never changes: a relay restarted after a crash reads the recorded links
(a re-sent, deduplicated message carries the same hashes) and continues from the last one; if a
stored event no longer matches its recorded link, the relay stops publishing instead.

    python -m arc_platform.audit verify --store mastery            # ARC_* settings find it
    python -m arc_platform.audit verify --stream ARC_MASTERY        # ARC_NATS_URL or --nats
    python -m arc_platform.audit verify --store mastery --stream ARC_MASTERY   # and compare them

It re-reads everything, reports the first break (which event, why) and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, Notification
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from arc_platform.views import dialect_insert

GENESIS = "0" * 64
HASH_HEADER = "Arc-Hash"
PREV_HEADER = "Arc-Prev-Hash"
RECORD_HEADER = "Arc-Record-Digest"
MESSAGE_FIELDS = ("ce-id", "ce-type", "ce-source", "ce-time")


def _hash(kind: str, *parts: str | bytes) -> str:
    """SHA-256 over length-prefixed parts (no two different part lists hash alike)."""
    digest = hashlib.sha256(kind.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def record_digest(notification: Notification) -> str:
    return _hash(
        "record",
        str(notification.originator_id),
        str(notification.originator_version),
        notification.topic,
        bytes(notification.state),
    )


def message_digest(headers: Mapping[str, str], body: bytes) -> str:
    return _hash("message", *(headers.get(name, "") for name in MESSAGE_FIELDS), body)


def store_link(prev: str, record: str) -> str:
    return _hash("store", prev, record)


def stream_link(prev: str, record: str, message: str) -> str:
    return _hash("stream", prev, record, message)


@dataclass(frozen=True)
class Link:
    """One stored event's place in the chains (stream fields only when it was published)."""

    notification_id: int
    record_digest: str
    store_prev: str
    store_hash: str
    event_id: str | None = None
    message_digest: str | None = None
    stream_prev: str | None = None
    stream_hash: str | None = None

    def headers(self) -> dict[str, str]:
        if self.stream_hash is None or self.stream_prev is None:
            return {}
        return {
            HASH_HEADER: self.stream_hash,
            PREV_HEADER: self.stream_prev,
            RECORD_HEADER: self.record_digest,
        }


class ChainBroken(RuntimeError):
    """A stored event no longer matches the link recorded for it."""


metadata = sa.MetaData()
chain_table = sa.Table(
    "arc_event_chain",
    metadata,
    sa.Column("notification_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record_digest", sa.String(64), nullable=False),
    sa.Column("store_prev", sa.String(64), nullable=False),
    sa.Column("store_hash", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=True),
    sa.Column("message_digest", sa.String(64), nullable=True),
    sa.Column("stream_prev", sa.String(64), nullable=True),
    sa.Column("stream_hash", sa.String(64), nullable=True),
)

#: How far each relay has published, beside the links: the relay writes its acknowledged
#: position in the same transaction as the next batch's links (one commit per pass).
relay_positions = sa.Table(
    "arc_relay_position",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


def store_engine(env: Mapping[str, str] | Environment) -> Engine | None:
    """An engine on the database of an eventsourcing store, from its environment (the one the
    service gives its application); None for an in-memory store."""
    module = env.get("PERSISTENCE_MODULE", "") or ""
    if module.endswith("sqlite"):
        name = env.get("SQLITE_DBNAME", "") or ""
        if not name or ":memory:" in name or "mode=memory" in name:
            return None
        return sa.create_engine(f"sqlite:///{name}", connect_args={"timeout": 30})
    if module.endswith("postgres"):
        user = quote(env.get("POSTGRES_USER", "postgres") or "postgres")
        password = env.get("POSTGRES_PASSWORD", "") or ""
        auth = f"{user}:{quote(password)}" if password else user
        url = (
            f"postgresql+psycopg://{auth}@{env.get('POSTGRES_HOST', '127.0.0.1')}:"
            f"{env.get('POSTGRES_PORT', '5432')}/{env.get('POSTGRES_DBNAME', 'postgres')}"
        )
        schema = env.get("POSTGRES_SCHEMA", "") or "public"
        return sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    return None


@functools.cache
def _insert_new_links(dialect: str) -> Any:
    """Built once per dialect: a relay records links for every batch, often of one event, and
    building the statement cost about as much as running it."""
    insert = dialect_insert(dialect, chain_table)
    return insert.on_conflict_do_nothing()


@functools.cache
def _advance_position(dialect: str) -> Any:
    """Insert or move a relay's position, never backwards."""
    insert = dialect_insert(dialect, relay_positions)
    return insert.on_conflict_do_update(
        index_elements=[relay_positions.c.name],
        set_={"position": insert.excluded.position},
        where=insert.excluded.position > relay_positions.c.position,
    )


@functools.cache
def _sqlite_sql(statement: Callable[[str], Any]) -> tuple[str, tuple[str, ...]]:
    """One of the statements above as SQLite text with ``?`` parameters, and the parameters'
    names in order: for writing through eventsourcing's own SQLite cursor."""
    compiled = statement("sqlite").compile(dialect=sqlite.dialect(paramstyle="qmark"))
    return str(compiled), tuple(compiled.positiontup or ())


class ChainStore:
    """The ``arc_event_chain`` table beside a service's stored events.

    ``sqlite_writer``: the application's own SQLite datastore, through which links are written
    (reads stay on ``engine``). eventsourcing's pool lets one of its connections write at a
    time; a second connection (this engine's) that finds the database locked waits in SQLite's
    busy handler, which sleeps 1, 2, 5, 10… ms at a time: measured in the running mastery
    service, the link insert waited up to 85 ms (p99 21 ms) behind the projection's commits."""

    def __init__(self, engine: Engine, sqlite_writer: SQLiteDatastore | None = None) -> None:
        self.engine = engine
        self.sqlite_writer = sqlite_writer
        metadata.create_all(engine)

    @classmethod
    def for_env(cls, env: Mapping[str, str] | Environment) -> ChainStore | None:
        engine = store_engine(env)
        return cls(engine) if engine is not None else None

    @classmethod
    def for_app(cls, app: Application[Any]) -> ChainStore | None:
        """For a relay: the application's store, written through its own SQLite writer."""
        engine = store_engine(app.env)
        if engine is None:
            return None
        datastore = getattr(app.recorder, "datastore", None)
        return cls(engine, datastore if isinstance(datastore, SQLiteDatastore) else None)

    def links(self, ids: Sequence[int]) -> dict[int, Link]:
        if not ids:
            return {}
        query = sa.select(chain_table).where(chain_table.c.notification_id.in_(list(ids)))
        with self.engine.connect() as conn:
            return {row.notification_id: _link(row) for row in conn.execute(query)}

    def heads_before(self, notification_id: int) -> tuple[str, str]:
        """(store head, stream head) just before ``notification_id``."""
        table = chain_table
        with self.engine.connect() as conn:
            store = conn.execute(
                sa.select(table.c.store_hash)
                .where(table.c.notification_id < notification_id)
                .order_by(table.c.notification_id.desc())
                .limit(1)
            ).scalar()
            stream = conn.execute(
                sa.select(table.c.stream_hash)
                .where(table.c.notification_id < notification_id)
                .where(table.c.stream_hash.is_not(None))
                .order_by(table.c.notification_id.desc())
                .limit(1)
            ).scalar()
        return store or GENESIS, stream or GENESIS

    def position(self, name: str) -> int:
        """Where relay ``name`` recorded it had published up to (0: nowhere yet)."""
        query = sa.select(relay_positions.c.position).where(relay_positions.c.name == name)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def add(
        self,
        links: Sequence[Link],
        verify: bool = True,
        position: tuple[str, int] | None = None,
    ) -> None:
        """Record new links and, in the same transaction, a relay's ``position`` (name,
        notification id) when given; ``verify``: a link another relay recorded first must be
        the same one (links are computed from the stored events alone, so two relays agree
        unless the store changed)."""
        if not links and position is None:
            return
        if self.sqlite_writer is not None:
            with self.sqlite_writer.transaction(commit=True) as cursor:
                if links:
                    sql, names = _sqlite_sql(_insert_new_links)
                    cursor.executemany(sql, [tuple(vars(link)[n] for n in names) for link in links])
                if position is not None:
                    sql, names = _sqlite_sql(_advance_position)
                    values = dict(zip(("name", "position"), position, strict=True))
                    cursor.execute(sql, tuple(values[n] for n in names))
        else:
            dialect = self.engine.dialect.name
            with self.engine.begin() as conn:
                if links:
                    conn.execute(_insert_new_links(dialect), [vars(link) for link in links])
                if position is not None:
                    name, notification_id = position
                    conn.execute(
                        _advance_position(dialect), {"name": name, "position": notification_id}
                    )
        if not links:
            return
        if not verify:
            return
        recorded = self.links([link.notification_id for link in links])
        for link in links:
            if recorded.get(link.notification_id) != link:
                raise ChainBroken(f"stored event {link.notification_id}: two different links")

    def all(self, batch: int = 5000) -> Iterator[Link]:
        after = -1
        while True:
            query = (
                sa.select(chain_table)
                .where(chain_table.c.notification_id > after)
                .order_by(chain_table.c.notification_id)
                .limit(batch)
            )
            with self.engine.connect() as conn:
                rows = [_link(row) for row in conn.execute(query)]
            if not rows:
                return
            yield from rows
            after = rows[-1].notification_id


def _link(row: Any) -> Link:
    return Link(**{c.name: getattr(row, c.name) for c in chain_table.columns})


@dataclass(frozen=True)
class Outgoing:
    """A stored event as the relay is about to handle it: published (``message``) or not."""

    notification: Notification
    event_id: str | None = None
    message_headers: Mapping[str, str] | None = None
    body: bytes | None = None


class Chainer:
    """Used by the relay: the links of a batch, recorded before anything is published."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        #: The last notification this chainer recorded a link for, and the heads after it. The
        #: relay's next batch starts right after it, so that batch needs neither the heads nor
        #: the links recorded earlier (there are none: only the relay holding the lease records
        #: links, and it forgets this after any failure and whenever it takes the lease).
        self._after: tuple[int, str, str] | None = None

    def forget(self) -> None:
        """Read the heads and check recorded links from the store again, on the next batch."""
        self._after = None

    def extend(
        self, batch: Sequence[Outgoing], position: tuple[str, int] | None = None
    ) -> list[Link]:
        """The batch's links, recorded in one transaction with the relay's ``position`` (what
        it published before this batch) when given."""
        if not batch:
            self.store.add([], position=position)
            return []
        first = batch[0].notification.id
        after = self._after
        continuing = after is not None and after[0] < first
        known: dict[int, Link] = {}
        if after is not None and continuing:
            _, store_head, stream_head = after
        else:
            known = self.store.links([o.notification.id for o in batch])
            store_head, stream_head = self.store.heads_before(first)
        self._after = None  # until this batch is recorded
        links: list[Link] = []
        for item in batch:
            link = self._link(item, store_head, stream_head)
            recorded = known.get(item.notification.id)
            if recorded is not None and recorded != link:
                raise ChainBroken(
                    f"stored event {item.notification.id} no longer matches its recorded link:"
                    " the store was changed; not publishing (run `python -m arc_platform.audit"
                    " verify --store ...`)"
                )
            links.append(link)
            store_head = link.store_hash
            stream_head = link.stream_hash or stream_head
        self.store.add(
            [link for link in links if link.notification_id not in known],
            verify=not continuing,
            position=position,
        )
        self._after = (batch[-1].notification.id, store_head, stream_head)
        return links

    @staticmethod
    def _link(item: Outgoing, store_head: str, stream_head: str) -> Link:
        record = record_digest(item.notification)
        link = Link(item.notification.id, record, store_head, store_link(store_head, record))
        if item.message_headers is None or item.body is None:
            return link
        message = message_digest(item.message_headers, item.body)
        return replace(
            link,
            event_id=item.event_id,
            message_digest=message,
            stream_prev=stream_head,
            stream_hash=stream_link(stream_head, record, message),
        )


# --- verification --------------------------------------------------------------------------


@dataclass
class Report:
    what: str
    checked: int = 0
    first_break: str | None = None
    notes: list[str] = field(default_factory=list)
    #: event id → stream hash, to compare a store with its stream.
    hashes: dict[str, str] = field(default_factory=dict)

    def broken(self, where: str) -> Report:
        if self.first_break is None:
            self.first_break = where
        return self


Progress = Callable[[int, int], None]


def open_recorder(service: str, env: Mapping[str, str]) -> ApplicationRecorder:
    factory = InfrastructureFactory.construct(Environment(service, {**env, "CREATE_TABLE": "n"}))
    recorder = factory.application_recorder()
    assert isinstance(recorder, ApplicationRecorder)
    return recorder


def verify_store(
    recorder: ApplicationRecorder, chain: ChainStore, progress: Progress | None = None
) -> Report:
    """Re-read every stored event and every link; the first event (in notification order) that
    does not match, is missing, or is not in the chain ends the check."""
    report = Report("store")
    links = chain.all()
    total = recorder.max_notification_id() or 0
    store_head, stream_head = GENESIS, GENESIS
    link = next(links, None)
    if link is None:
        report.notes.append("no event is chained yet (has the relay run?)")
        return report
    for notification in _notifications(recorder):
        if progress:
            progress(notification.id, total)
        if link is None:
            report.notes.append(f"events after {notification.id - 1} are not chained yet")
            return report
        if notification.id < link.notification_id:
            if report.checked:
                return report.broken(f"stored event {notification.id} is not in the chain")
            continue  # before the chain began (stored before chains were introduced)
        if notification.id > link.notification_id:
            return report.broken(f"stored event {link.notification_id} was deleted")
        problem = _check_link(notification, link, store_head, stream_head)
        if problem:
            return report.broken(f"stored event {notification.id}: {problem}")
        report.checked += 1
        store_head = link.store_hash
        if link.stream_hash and link.event_id:
            stream_head = link.stream_hash
            report.hashes[link.event_id] = link.stream_hash
        link = next(links, None)
    if link is not None:
        return report.broken(f"stored event {link.notification_id} was deleted")
    return report


def _check_link(
    notification: Notification, link: Link, store_head: str, stream_head: str
) -> str | None:
    if record_digest(notification) != link.record_digest:
        return "was altered after it was chained (its content does not match its digest)"
    if link.store_prev != store_head:
        return "its link does not follow the previous one (chain rows altered)"
    if store_link(link.store_prev, link.record_digest) != link.store_hash:
        return "its link was altered (store hash does not match)"
    if link.stream_hash is None:
        return None
    if link.stream_prev is None or link.message_digest is None:
        return "its published link is incomplete"
    if link.stream_prev != stream_head:
        return "its published link does not follow the previous one"
    if stream_link(link.stream_prev, link.record_digest, link.message_digest) != link.stream_hash:
        return "its published link was altered"
    return None


def _notifications(recorder: ApplicationRecorder, batch: int = 1000) -> Iterator[Notification]:
    after = 0
    while True:
        found = recorder.select_notifications(after, batch, inclusive_of_start=False)
        if not found:
            return
        yield from found
        after = found[-1].id


async def verify_stream(js: Any, stream: str, progress: Progress | None = None) -> Report:
    """Re-read a JetStream stream from its first message and check the published chain."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import ConsumerConfig, DeliverPolicy

    report = Report(f"stream {stream}")
    info = await js.stream_info(stream)
    last = int(info.state.last_seq)
    if last == 0:
        report.notes.append("the stream is empty")
        return report
    subscription = await js.subscribe(
        ">",
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    previous: str | None = None
    seen: set[str] = set()
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=10)
            except NatsTimeout:
                report.notes.append("stopped: no message for 10 s before the stream's end")
                return report
            sequence = int(msg.metadata.sequence.stream)
            if progress:
                progress(sequence, last)
            problem = _check_message(msg.headers or {}, msg.data, previous, seen)
            if problem == "duplicate":
                report.notes.append(f"sequence {sequence} repeats an earlier message (re-sent)")
            elif problem == "unchained" and previous is None:
                pass  # published before chains were introduced
            elif problem:
                return report.broken(f"sequence {sequence} ({msg.subject}): {problem}")
            else:
                previous = (msg.headers or {})[HASH_HEADER]
                seen.add(previous)
                report.hashes[(msg.headers or {}).get("ce-id", "")] = previous
                report.checked += 1
            if sequence >= last:
                return report
    finally:
        await subscription.unsubscribe()


def _check_message(
    headers: Mapping[str, str], body: bytes, previous: str | None, seen: set[str]
) -> str | None:
    claimed, prev, record = (headers.get(h) for h in (HASH_HEADER, PREV_HEADER, RECORD_HEADER))
    if not claimed or not prev or not record:
        return "unchained" if previous is None else "has no chain headers (not from the relay)"
    if claimed in seen:
        return "duplicate"
    if stream_link(prev, record, message_digest(headers, body)) != claimed:
        return "its content does not match its hash (altered or forged)"
    if prev != (previous or GENESIS):
        return "does not follow the previous message (one was removed, inserted or forged)"
    return None


def compare(store: Report, stream: Report) -> str | None:
    """The first event whose published hash differs between the store's and the stream's chain."""
    for event_id, stored in store.hashes.items():
        published = stream.hashes.get(event_id)
        if published is not None and published != stored:
            return f"event {event_id}: the store's chain and the stream's disagree"
    return None


# --- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.progress import Progress as Bar

    from arc_platform.settings import ServiceSettings

    parser = argparse.ArgumentParser(prog="python -m arc_platform.audit")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="re-read a store and/or a stream, check chains")
    verify.add_argument("--store", metavar="SERVICE", help="a service's store (ARC_* settings)")
    verify.add_argument("--stream", metavar="STREAM", help="a JetStream stream, e.g. ARC_MASTERY")
    verify.add_argument("--nats", help="NATS URL (default: ARC_NATS_URL)")
    args = parser.parse_args(argv)
    if not args.store and not args.stream:
        parser.error("give --store SERVICE, --stream STREAM, or both")
    console = Console(stderr=True)
    reports: list[Report] = []
    with Bar(console=console, transient=True) as bar:
        if args.store:
            settings = ServiceSettings(service_name=args.store)
            env = settings.eventsourcing_env()
            chain = ChainStore.for_env(env)
            if chain is None:
                console.print("this store keeps no chain (in-memory)")
                return 2
            task = bar.add_task(f"store {args.store}", total=None)
            reports.append(
                verify_store(
                    open_recorder(args.store, env),
                    chain,
                    lambda done, total: bar.update(task, completed=done, total=total),
                )
            )
        if args.stream:
            url = args.nats or ServiceSettings(service_name="audit").nats_url
            task = bar.add_task(f"stream {args.stream}", total=None)
            reports.append(
                asyncio.run(
                    _verify_stream_at(
                        url,
                        args.stream,
                        lambda done, total: bar.update(task, completed=done, total=total),
                    )
                )
            )
    if len(reports) == 2 and reports[0].first_break is None and reports[1].first_break is None:
        disagreement = compare(reports[0], reports[1])
        if disagreement:
            reports[1].broken(disagreement)
    for report in reports:
        for note in report.notes:
            console.print(f"[dim]{report.what}: {note}[/dim]")
        if report.first_break:
            print(f"{report.what}: BROKEN after {report.checked} good links: {report.first_break}")
        else:
            print(f"{report.what}: chain intact ({report.checked} links verified)")
    return 1 if any(r.first_break for r in reports) else 0


async def _verify_stream_at(url: str, stream: str, progress: Progress) -> Report:
    from arc_platform import bus

    nc = await bus.connect(url, "arc-audit")
    try:
        return await verify_stream(nc.jetstream(), stream, progress)
    finally:
        await nc.close()


if __name__ == "__main__":
    sys.exit(main())
