"""Tamper evidence, as an auditor checks it: the relay chains what a service stores and
publishes; `python -m arc_platform.audit verify` re-reads a store or a stream and names the
first break — an event altered in the database, or a message forged into the stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest
import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from nats.aio.msg import Msg

from arc_contracts import ContractEvent, Envelope, MasteryChangedV1, encode
from arc_platform import bus
from arc_platform.audit import (
    HASH_HEADER,
    PREV_HEADER,
    RECORD_HEADER,
    ChainBroken,
    Chainer,
    ChainStore,
    Outgoing,
    message_digest,
    open_recorder,
    stream_link,
    verify_store,
    verify_stream,
)
from arc_platform.relay import OutboxRelay
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from tests.support.events import mastery_changed


class Note(Aggregate):  # type: ignore[misc]
    """A tiny aggregate whose events the relay publishes as mastery changes."""

    @event("Written")
    def __init__(self, student_id: str, value: int) -> None:
        self.student_id = student_id
        self.value = value

    @event("Changed")
    def change(self, student_id: str, value: int) -> None:
        self.value = value

    @event("Annotated")  # stored, never published
    def annotate(self, text: str) -> None:
        pass


class Notes(Application[UUID]):  # type: ignore[misc]
    name = "notes"


def translate(stored: Any) -> ContractEvent | None:
    if isinstance(stored, Note.Written | Note.Changed):  # type: ignore[attr-defined]
        return mastery_changed(stored.student_id, stored.value)
    return None


def settings_for(tmp_path: Path, database_url: str | None) -> ServiceSettings:
    return ServiceSettings(
        service_name="notes",
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_schema="arc_notes" if database_url else None,
    )


def cli_env(settings: ServiceSettings) -> dict[str, str]:
    env = {**os.environ, "ARC_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env |= {"ARC_DATABASE_URL": settings.database_url, "ARC_DATABASE_SCHEMA": "arc_notes"}
    return env


def audit(settings: ServiceSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arc_platform.audit", "verify", *args],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_history(app: Notes, students: int = 3) -> list[UUID]:
    ids = []
    for n in range(students):
        note = Note(f"stu-{n}", 1)
        note.annotate("first try")
        note.change(f"stu-{n}", 3)
        app.save(note)
        ids.append(note.id)
    return ids


async def relay_all(relay: OutboxRelay) -> None:
    while await relay.publish_pending():
        pass


async def test_the_relay_records_its_position_with_the_next_links_and_when_it_stops(
    tmp_path: Path, database_url: str | None, nats_url: str
) -> None:
    settings = settings_for(tmp_path, database_url)
    app = open_application(Notes, settings)
    write_history(app, students=3)  # 9 notifications, 6 of them published
    nc = await bus.connect(nats_url, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, "mastery", 600)
    chain = ChainStore.for_env(settings.eventsourcing_env())
    assert chain is not None
    relay = OutboxRelay(app, translate, js, "mastery", "/arc/notes", batch_size=3)
    assert relay.chainer is not None
    # On SQLite the links go through the application's own writer (whose pool lets one
    # connection write at a time) rather than a second connection waiting on SQLite's lock.
    writer = relay.chainer.store.sqlite_writer
    assert writer is (None if database_url else app.recorder.datastore)  # type: ignore[attr-defined]

    await relay.publish_pending()  # 1-3 published and acknowledged, not yet recorded
    assert (relay.published_count, relay.confirmed_position()) == (2, 0)
    await relay.publish_pending()  # 4-6 linked, and 3 recorded with those links
    assert relay.confirmed_position() == chain.position(relay.tracking_name) == 3
    assert sorted(chain.links(list(range(1, 10)))) == [1, 2, 3, 4, 5, 6]

    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    for _ in range(200):
        if relay.published_count == 6:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await running
    assert relay.confirmed_position() == 9, "a relay that stops records what it published"
    restarted = OutboxRelay(app, translate, js, "mastery", "/arc/notes")
    await relay_all(restarted)
    assert restarted.published_count == 0
    app.close()
    await nc.close()


async def test_an_altered_stored_event_is_caught(
    tmp_path: Path, database_url: str | None, nats_url: str
) -> None:
    settings = settings_for(tmp_path, database_url)
    app = open_application(Notes, settings)
    write_history(app)
    nc = await bus.connect(nats_url, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, "mastery", 600)
    await relay_all(OutboxRelay(app, translate, js, "mastery", "/arc/notes", partitions=4))
    intact = audit(settings, "--store", "notes")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "chain intact (9 links verified)" in intact.stdout

    # Someone with database access "improves" stu-1's result: 1 → 4.
    table = "notes_events" if database_url else "stored_events"
    engine = ChainStore.for_env(settings.eventsourcing_env())
    assert engine is not None
    with engine.engine.begin() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT originator_id, originator_version, state FROM {table} ORDER BY "
                f"{'notification_id' if database_url else 'rowid'}"
            )
        ).all()
        target = rows[3]  # stu-1's Written event (the 4th stored event)
        assert b'"value":1' in bytes(target.state)
        conn.execute(
            sa.text(
                f"UPDATE {table} SET state = :state WHERE originator_id = :id "
                "AND originator_version = :version"
            ),
            {
                "state": bytes(target.state).replace(b'"value":1', b'"value":4'),
                "id": target.originator_id,
                "version": target.originator_version,
            },
        )
    tampered = audit(settings, "--store", "notes")
    assert tampered.returncode == 1
    assert tampered.stdout.startswith(
        "store: BROKEN after 3 good links: stored event 4: was altered after it was chained"
    ), tampered.stdout

    # A relay re-reading that event (after a crash) refuses to publish it again.
    recorder = open_recorder("notes", settings.eventsourcing_env())
    altered = recorder.select_notifications(4, 1)[0]
    with pytest.raises(ChainBroken, match="no longer matches"):
        Chainer(engine).extend([Outgoing(altered)])
    app.close()
    await nc.close()


async def test_a_deleted_stored_event_is_caught(tmp_path: Path, nats_url: str) -> None:
    settings = settings_for(tmp_path, None)
    app = open_application(Notes, settings)
    write_history(app, students=2)
    nc = await bus.connect(nats_url, "test")
    await bus.ensure_stream(nc.jetstream(), "mastery", 600)
    await relay_all(OutboxRelay(app, translate, nc.jetstream(), "mastery", "/arc/notes"))
    chain = ChainStore.for_env(settings.eventsourcing_env())
    assert chain is not None
    with chain.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM stored_events WHERE rowid = 5"))
    report = verify_store(open_recorder("notes", settings.eventsourcing_env()), chain)
    assert report.first_break == "stored event 5 was deleted"
    app.close()
    await nc.close()


async def test_a_restarted_relay_continues_the_chain_and_a_resend_carries_the_same_hashes(
    tmp_path: Path, nats_url: str
) -> None:
    settings = settings_for(tmp_path, None)
    app = open_application(Notes, settings)
    write_history(app, students=2)
    nc = await bus.connect(nats_url, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, "mastery", 600)
    sent: list[Msg] = []

    async def on_publish(msg: Msg) -> None:  # a plain subscriber sees every publish, even
        sent.append(msg)  # the copies JetStream drops as duplicates

    await nc.subscribe("arc.mastery.>", cb=on_publish)
    relay = OutboxRelay(app, translate, js, "mastery", "/arc/notes")
    # A pass publishes; its position is written by the next pass, with that pass's links. A
    # relay killed in between has published what it never recorded.
    await relay.publish_pending()
    assert (relay.published_count, relay.confirmed_position()) == (4, 0)
    restarted = OutboxRelay(app, translate, js, "mastery", "/arc/notes")
    await relay_all(restarted)  # re-sends the batch: deduplicated by JetStream
    write_history(app, students=1)  # more while the relay is down…
    await relay_all(OutboxRelay(app, translate, js, "mastery", "/arc/notes"))  # …and restarted
    await nc.flush()
    await asyncio.sleep(0.2)

    by_id: dict[str, set[tuple[str, str]]] = {}
    for msg in sent:
        headers = msg.headers or {}
        by_id.setdefault(headers["ce-id"], set()).add((headers[HASH_HEADER], headers[PREV_HEADER]))
    assert len(sent) == 4 + 4 + 2, "the first batch was sent twice"
    assert all(len(hashes) == 1 for hashes in by_id.values()), "a re-send changed its hashes"
    report = await verify_stream(js, "ARC_MASTERY")
    assert (report.first_break, report.checked) == (None, 6)
    chain = ChainStore.for_env(settings.eventsourcing_env())
    assert chain is not None
    store = verify_store(open_recorder("notes", settings.eventsourcing_env()), chain)
    assert (store.first_break, store.checked) == (None, 9)
    assert store.hashes == report.hashes, "the store and the stream hold the same chain"
    app.close()
    await nc.close()


async def forge(js: Any, previous: Msg | None, consistent: bool) -> None:
    """Publish a made-up mastery change, as someone with publish rights on the subject could."""
    forged = mastery_changed("stu-0", 4)
    envelope = Envelope(str(uuid.uuid4()), "/arc/mastery", forged.event_type(), datetime.now(UTC))
    subject, body, headers = encode(forged, envelope, 4)
    if consistent and previous is not None:  # chained onto the last genuine message
        prev, record = (previous.headers or {})[HASH_HEADER], "0" * 64
        headers |= {
            PREV_HEADER: prev,
            RECORD_HEADER: record,
            HASH_HEADER: stream_link(prev, record, message_digest(headers, body)),
        }
    await js.publish(subject, body, headers=headers, stream="ARC_MASTERY")


@pytest.mark.parametrize("consistent", [False, True], ids=["naive", "chained"])
async def test_a_forged_message_in_the_stream_is_caught(
    tmp_path: Path, nats_url: str, consistent: bool
) -> None:
    settings = settings_for(tmp_path, None)
    app = open_application(Notes, settings)
    write_history(app, students=2)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await bus.ensure_stream(js, "mastery", 600)
    await relay_all(OutboxRelay(app, translate, js, "mastery", "/arc/notes"))
    last = await js.get_last_msg("ARC_MASTERY", "arc.mastery.>")
    await forge(js, Msg(nc, headers=last.headers), consistent)  # sequence 5
    write_history(app, students=1)
    await relay_all(OutboxRelay(app, translate, js, "mastery", "/arc/notes"))  # sequences 6, 7
    done = audit(settings, "--stream", "ARC_MASTERY", "--nats", nats_url)
    assert done.returncode == 1, done.stdout + done.stderr
    if consistent:  # it looks fine alone; the next genuine message does not follow it
        assert "BROKEN after 5 good links: sequence 6" in done.stdout
        assert "does not follow the previous message" in done.stdout
    else:
        assert "BROKEN after 4 good links: sequence 5" in done.stdout
        assert "no chain headers" in done.stdout
    app.close()
    await nc.close()


def test_the_chain_of_an_untouched_store_and_stream_agree(tmp_path: Path) -> None:
    """Digests are stable: the same event and message give the same link in any process."""
    headers = {
        "ce-id": "1",
        "ce-type": MasteryChangedV1.event_type(),
        "ce-source": "/x",
        "ce-time": "2026-10-02T00:00:00+00:00",
        "traceparent": "ignored",
    }
    one = stream_link("0" * 64, "a" * 64, message_digest(headers, b"{}"))
    headers["traceparent"] = "another"  # a new publish span each time: not part of the hash
    assert stream_link("0" * 64, "a" * 64, message_digest(headers, b"{}")) == one
    assert stream_link("0" * 64, "a" * 64, message_digest(headers, b"{ }")) != one


async def test_a_relay_chaining_batch_after_batch_records_what_the_store_alone_gives(
    tmp_path: Path, database_url: str | None, nats_url: str
) -> None:
    """The relay keeps the chain's heads between its batches instead of reading them back: the
    links it records are those a fresh chainer computes from the store alone, and an audit of
    store and stream finds the chain intact."""
    settings = settings_for(tmp_path, database_url)
    app = open_application(Notes, settings)
    write_history(app, students=7)  # 21 stored events
    nc = await bus.connect(nats_url, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, "mastery", 600)
    relay = OutboxRelay(app, translate, js, "mastery", "/arc/notes", partitions=4, batch_size=4)
    await relay_all(relay)
    store = ChainStore.for_env(settings.eventsourcing_env())
    assert store is not None
    recorded = list(store.all())
    assert [link.notification_id for link in recorded] == list(range(1, 22))

    recorder = open_recorder("notes", settings.eventsourcing_env())
    fresh = Chainer(store)
    for start in range(0, 21, 4):
        notifications = recorder.select_notifications(start + 1, 4)
        fresh.forget()  # heads and recorded links from the store, every batch
        # The outgoing messages as the relay builds them; recorded links are checked against.
        again = fresh.extend([relay._prepare(n).outgoing for n in notifications])
        assert again == recorded[start : start + 4]
    checked = audit(settings, "--store", "notes", "--stream", "ARC_MASTERY", "--nats", nats_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "chain intact (21 links verified)" in checked.stdout
    app.close()
    await nc.close()
