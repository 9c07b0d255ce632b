"""The nats-server is killed with SIGKILL while teachers record attempts, then restarted on the
same port and the same file store: no acknowledged attempt is lost or doubled, and every
consumer resumes where it was."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from arc_platform.devstack import NatsServer
from tests.support.faults import (
    LoadCount,
    LoadGenerator,
    assert_nothing_lost_or_doubled,
    define_outcomes,
)
from tests.support.stack import Stack, eventually


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server this test owns (file storage), so that it may kill it."""
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def stack(nats_server: NatsServer, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_server.url, tmp_path / "data", database_url).start()
    yield running
    running.stop()


def kill(server: NatsServer) -> None:
    """SIGKILL: no flush, no clean shutdown."""
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)


async def test_nats_killed_mid_stream_loses_no_acknowledged_attempt(
    stack: Stack, nats_server: NatsServer
) -> None:
    sent = LoadCount()
    await define_outcomes(stack, sent, ["ELA.1", "ELA.2", "ELA.3"])
    load = LoadGenerator(stack, sent, students=[f"stu-{n}" for n in range(16)])
    teachers = asyncio.create_task(load.record(500))

    async def recorded_more_than(count: int) -> bool:
        return len(sent.acknowledged) > count

    await eventually(lambda: recorded_more_than(150), what="part of the load to be recorded")
    kill(nats_server)
    # Evidence keeps accepting attempts without the broker: its store is the outbox.
    down_at = len(sent.acknowledged)
    await eventually(lambda: recorded_more_than(down_at + 100), what="attempts while NATS is down")
    nats_server.start()  # the same port and the same store directory
    await teachers

    await assert_nothing_lost_or_doubled(stack, sent)
