"""An orchestrator asks each service whether it may take traffic (gRPC health, service
``arc.readiness``) and whether it is alive (service ""). Ready means NATS connected, the store
answering and the consumers caught up; alive stays true through a NATS outage, so that the
orchestrator stops routing to the process instead of restarting it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import nats
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from nats.aio.client import Client

from arc_platform.bus import connect, ensure_stream
from arc_platform.consumer import Delivery, TrackedConsumer
from arc_platform.devstack import NatsServer
from arc_platform.grpc_server import start_server
from arc_platform.readiness import READINESS_SERVICE, Readiness
from arc_platform.settings import ServiceSettings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Probe:
    """What a Kubernetes gRPC probe sees."""

    def __init__(self, port: int) -> None:
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.stub = health_pb2_grpc.HealthStub(self.channel)

    async def status(self, service: str) -> int:
        try:
            reply = await self.stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=3)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # not registered yet: a failed probe
                return int(health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            raise
        return int(reply.status)

    async def becomes(self, service: str, wanted: int, what: str, timeout: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.status(service) != wanted:
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)


class Service:
    """A process's gRPC server with its readiness loop, on a real nats-server."""

    def __init__(self, settings: ServiceSettings, nc: Client, consumers: list[TrackedConsumer]):
        self.health = health.aio.HealthServicer()
        self.readiness = Readiness(
            settings, nc, self.health, consumers=lambda: consumers, interval_seconds=0.1
        )
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Probe:
        self.server, port = await start_server("127.0.0.1", 0, [], [], self.health)
        self.task = asyncio.create_task(self.readiness.run(self.stop))
        self.probe = Probe(port)
        return self.probe

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.task
        await self.probe.channel.close()
        await self.server.stop(grace=0)


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


def settings(tmp_path: Path, **values: object) -> ServiceSettings:
    found = ServiceSettings(service_name="probe", data_dir=tmp_path, **values)  # type: ignore[arg-type]
    found.service_dir()
    return found


async def test_ready_while_nats_is_connected_and_alive_through_an_outage(
    nats_server: NatsServer, tmp_path: Path, database_url: str | None
) -> None:
    nc = await connect(nats_server.url, "probe")
    async with Service(settings(tmp_path, database_url=database_url), nc, []) as probe:
        await probe.becomes(READINESS_SERVICE, SERVING, "readiness")
        assert await probe.status("") == SERVING

        nats_server.stop()
        await probe.becomes(READINESS_SERVICE, NOT_SERVING, "not ready without NATS")
        assert await probe.status("") == SERVING, "alive: no reason to restart the process"

        nats_server.start()  # same port and data: the client reconnects by itself
        await probe.becomes(READINESS_SERVICE, SERVING, "ready again after NATS is back")
    await nc.close()


async def test_not_ready_when_the_database_does_not_answer(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_server.url)
    nowhere = "postgresql://postgres@127.0.0.1:1/arc_probe"  # nothing listens on port 1
    service = Service(settings(tmp_path, database_url=nowhere), nc, [])
    async with service as probe:
        await probe.becomes(READINESS_SERVICE, NOT_SERVING, "not ready without a database")
    store = next(c for c in service.readiness.checks if c.name == "store")
    assert not store.ok and "PostgreSQL unreachable" in store.detail
    await nc.close()


async def test_not_ready_while_a_consumer_is_too_far_behind(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_stream(js, "catalog", duplicate_window_seconds=60)
    for n in range(30):
        await js.publish(f"arc.catalog.v1.noise_{n}", b"{}")  # malformed: still to be applied
    stuck = {"yes": True}
    applied: list[int] = []

    def apply(batch: list[Delivery]) -> None:
        if stuck["yes"]:
            raise ConnectionError("the projection's database is failing over")
        applied.extend(d.sequence for d in batch)

    consumer = TrackedConsumer(
        js, "catalog", lambda stream: applied[-1] if applied else 0, apply, max_batch=5
    )
    stop = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(stop))
    service = Service(settings(tmp_path, ready_max_lag=10), nc, [consumer])
    async with service as probe:
        await probe.becomes(READINESS_SERVICE, NOT_SERVING, "not ready 30 messages behind")
        lag = next(c for c in service.readiness.checks if c.name.startswith("lag"))
        assert lag.detail == "30 messages behind (limit 10)"

        stuck["yes"] = False
        await probe.becomes(READINESS_SERVICE, SERVING, "ready once caught up")
    assert applied == list(range(1, 31))
    stop.set()
    await consuming
    await nc.close()
