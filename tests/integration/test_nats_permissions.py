"""NATS credentials per service: each publishes only its own subjects and reads only the streams
it consumes; the integrator reads published mastery events and nothing else; and the mastery
service does all its work (streams, consumers, leases, relay) with its restricted user."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

from arc.mastery.v1 import mastery_pb2
from arc_contracts import ContractEvent, Envelope, MasteryChangedV1, decode, encode
from arc_contracts.registry import CONTEXTS
from arc_platform import bus
from arc_platform.auth.nats_permissions import USERS, password_variable, render
from arc_platform.devstack import NatsServer, nats_server_binary
from arc_platform.partitions import LEASE_BUCKET
from tests.integration.test_auth_mastery_access import CATALOG, STUDENT, attempt
from tests.support.events import mastery_changed
from tests.support.stack import Stack, eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    running = NatsServer(tmp_path / "nats", with_permissions=True).start()
    yield running
    running.stop()


class Connection:
    """A user's connection that remembers the permission errors the server sent it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: Client | None = None

    async def open(self, server: NatsServer, user: str) -> Connection:
        async def on_error(error: Exception) -> None:
            self.errors.append(str(error).lower())

        url = server.url_for(user)
        self.nc = await nats.connect(
            url, error_cb=on_error, inbox_prefix=bus.inbox_prefix(url), max_reconnect_attempts=0
        )
        return self

    def refused(self, what: str, subject: str) -> bool:
        return any(f'violation for {what} to "{subject.lower()}"' in e for e in self.errors)


@pytest.fixture
async def as_user(server: NatsServer) -> AsyncIterator[dict[str, Connection]]:
    opened: dict[str, Connection] = {}
    for user in ("admin", "catalog", "evidence", "mastery", "reporting", "integrator"):
        opened[user] = await Connection().open(server, user)
    admin = opened["admin"].nc
    assert admin is not None
    for context in CONTEXTS:
        await bus.ensure_stream(admin.jetstream(), context, 600)
    yield opened
    for connection in opened.values():
        assert connection.nc is not None
        await connection.nc.close()


async def publish(connection: Connection, event: ContractEvent) -> bool:
    """Publish as a relay would; True when the stream acknowledged it."""
    assert connection.nc is not None
    envelope = Envelope(str(uuid.uuid4()), "/arc/test", event.event_type(), datetime.now(UTC))
    subject, body, headers = encode(event, envelope, 4)
    try:
        await connection.nc.jetstream().publish(subject, body, headers=headers, timeout=1.5)
    except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
        return False
    return True


async def can_consume(connection: Connection, stream: str) -> bool:
    assert connection.nc is not None
    try:
        subscription = await connection.nc.jetstream(timeout=1.0).subscribe(
            ">",
            stream=stream,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
    except nats.errors.TimeoutError:
        return False
    await subscription.unsubscribe()
    return True


async def stored(admin: Connection, stream: str) -> int:
    assert admin.nc is not None
    return int((await admin.nc.jetstream().stream_info(stream)).state.messages)


async def test_a_services_credentials_are_refused_on_another_services_subjects(
    as_user: dict[str, Connection],
) -> None:
    mastery, evidence, admin = as_user["mastery"], as_user["evidence"], as_user["admin"]
    # Publishing: its own subjects only.
    assert await publish(mastery, mastery_changed(STUDENT))
    assert not await publish(mastery, attempt(STUDENT))
    assert mastery.refused("publish", attempt(STUDENT).published_subject(4))
    assert not await publish(evidence, mastery_changed(STUDENT))
    assert (await stored(admin, "ARC_EVIDENCE"), await stored(admin, "ARC_MASTERY")) == (0, 1)
    # Reading: the streams it consumes only (a JetStream consumer, or a plain subscription).
    assert await can_consume(mastery, "ARC_EVIDENCE")
    assert not await can_consume(evidence, "ARC_MASTERY")
    assert evidence.refused("publish", "$JS.API.CONSUMER.CREATE.ARC_MASTERY")
    assert mastery.nc is not None
    await mastery.nc.subscribe("arc.evidence.>")
    await mastery.nc.subscribe("_INBOX_evidence.>")  # nor another service's replies
    await mastery.nc.flush()
    await asyncio.sleep(0.2)
    assert mastery.refused("subscription", "arc.evidence.>")
    assert mastery.refused("subscription", "_INBOX_evidence.>")


@pytest.mark.parametrize(
    ("user", "publishes", "reads"),
    [
        ("catalog", {"catalog"}, set()),
        ("evidence", {"evidence"}, {"catalog"}),
        ("mastery", {"mastery"}, {"catalog", "evidence"}),
        ("reporting", {"reporting"}, {"catalog", "evidence", "mastery"}),
        ("integrator", set(), {"mastery", "reporting"}),
    ],
)
async def test_who_may_publish_and_read_which_stream(
    as_user: dict[str, Connection], user: str, publishes: set[str], reads: set[str]
) -> None:
    connection = as_user[user]
    assert connection.nc is not None
    for context in CONTEXTS:
        subject = f"arc.{context}.v1.probe"
        await connection.nc.publish(subject, b"{}")
        await connection.nc.flush()
        await asyncio.sleep(0.05)
        assert connection.refused("publish", subject) is (context not in publishes), subject
        assert await can_consume(connection, f"ARC_{context.upper()}") is (context in reads)


async def test_the_integrator_follows_mastery_changes_and_nothing_else(
    as_user: dict[str, Connection],
) -> None:
    assert await publish(as_user["mastery"], mastery_changed("stu-7"))
    integrator = as_user["integrator"]
    assert integrator.nc is not None
    js = integrator.nc.jetstream()
    subscription = await js.subscribe(
        MasteryChangedV1.subscription_subject(), ordered_consumer=True
    )  # the stream is found by subject
    _, event = decode((msg := await subscription.next_msg(timeout=5)).headers, msg.data)
    assert isinstance(event, MasteryChangedV1) and event.student_id == "stu-7"
    assert not await publish(integrator, mastery_changed("stu-8"))
    assert not await can_consume(integrator, "ARC_EVIDENCE")


async def test_nobody_connects_without_credentials(server: NatsServer) -> None:
    wrong = server.url_for("mastery").replace(server.passwords["mastery"], "guess")
    for url in (server.plain_url, wrong):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, connect_timeout=2, allow_reconnect=False)


async def test_mastery_does_all_its_work_with_its_restricted_credentials(
    server: NatsServer, tmp_path: Path
) -> None:
    """Streams, consumers of the catalog and evidence, partition leases, the relay — and not one
    permission violation in the server's log."""
    stack = Stack(server.url_for("mastery"), tmp_path / "data")
    stack.start("mastery")
    try:
        catalog = await Connection().open(server, "catalog")
        evidence = await Connection().open(server, "evidence")
        integrator = await Connection().open(server, "integrator")
        for event in CATALOG:
            assert await publish(catalog, event)
        assert await publish(evidence, attempt(STUDENT))
        client = stack.mastery()

        async def projected() -> bool:
            reply = await client.GetMastery(
                mastery_pb2.GetMasteryRequest(student_id=STUDENT, outcome_id="math.1")
            )
            return bool(reply.attempt_ids)

        await eventually(projected, what="mastery to project with its own credentials")
        assert integrator.nc is not None
        changes = await integrator.nc.jetstream().subscribe(
            MasteryChangedV1.subscription_subject(), stream="ARC_MASTERY", ordered_consumer=True
        )
        message = await changes.next_msg(timeout=10)
        assert message.headers and "Arc-Hash" in message.headers  # published by its relay
        admin = await Connection().open(server, "admin")
        assert admin.nc is not None
        leases = await (await admin.nc.jetstream().key_value(LEASE_BUCKET)).keys()
        assert {f"mastery.p{p}" for p in range(4)} <= set(leases)  # every partition leased
        for connection in (catalog, evidence, integrator, admin):
            assert connection.nc is not None
            await connection.nc.close()
    finally:
        stack.stop()
    # The auditor's NATS user re-reads the stream; the store and the stream hold one chain.
    audited = subprocess.run(  # noqa: ASYNC221 (the services are stopped: nothing to wait for)
        [
            sys.executable,
            "-m",
            "arc_platform.audit",
            "verify",
            "--store",
            "mastery",
            "--stream",
            "ARC_MASTERY",
            "--nats",
            server.url_for("auditor"),
        ],
        env={**os.environ, "ARC_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "stream ARC_MASTERY: chain intact" in audited.stdout
    log = server.log_path.read_text()
    assert "Violation" not in log, [line for line in log.splitlines() if "Violation" in line]


def test_the_deployment_file_is_generated_and_valid_for_nats_server(tmp_path: Path) -> None:
    deployed = (ROOT / "deploy" / "nats" / "permissions.conf").read_text()
    assert deployed == render(), (
        "regenerate: python -m arc_platform.auth.nats_permissions deploy"
        " > deploy/nats/permissions.conf"
    )
    env = {**os.environ, **{password_variable(u.name): f"pw-{u.name}" for u in USERS}}
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(ROOT / "deploy" / "nats" / "permissions.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
