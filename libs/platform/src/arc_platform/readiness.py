"""Readiness: may this process take traffic? Checked every few seconds and published as the gRPC
health status of the service ``arc.readiness`` (Kubernetes' readiness probe and the compose
health check ask for it). The overall status (service "") only says the process is alive:
liveness must not fail because NATS or the database is away, or every pod would restart.

Ready when: NATS is connected, the store answers (PostgreSQL ``SELECT 1``, or the SQLite
directory is writable), and every tracked consumer of the process is at most
``ARC_READY_MAX_LAG`` messages behind (0: lag is reported but never makes a process unready).
Each change of readiness is logged with the reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
from grpc_health.v1 import health, health_pb2
from nats.aio.client import Client

from arc_platform.consumer import TrackedConsumer, live_consumers
from arc_platform.settings import ServiceSettings

log = logging.getLogger(__name__)

READINESS_SERVICE = "arc.readiness"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def store_check(settings: ServiceSettings) -> Check:
    if settings.database_url:
        try:
            with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return Check("store", False, f"PostgreSQL unreachable: {exc}".strip())
        return Check("store", True, "PostgreSQL answers")
    directory = settings.data_dir / settings.service_name
    if not os.access(directory, os.W_OK):
        return Check("store", False, f"SQLite directory {directory} is not writable")
    return Check("store", True, f"SQLite in {directory}")


def lag_checks(consumers: Iterable[TrackedConsumer], max_lag: int) -> list[Check]:
    checks = []
    for consumer in consumers:
        ok = max_lag <= 0 or consumer.lag <= max_lag
        limit = f" (limit {max_lag})" if max_lag > 0 else ""
        checks.append(
            Check(f"lag {consumer.position_key}", ok, f"{consumer.lag} messages behind{limit}")
        )
    return checks


class Readiness:
    def __init__(
        self,
        settings: ServiceSettings,
        nc: Client,
        health_servicer: health.aio.HealthServicer,
        *,
        consumers: Callable[[], Iterable[TrackedConsumer]] = live_consumers,
        interval_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.nc = nc
        self.health = health_servicer
        self.consumers = consumers
        self.interval_seconds = interval_seconds
        self.ready: bool | None = None
        self.checks: list[Check] = []

    async def check(self) -> list[Check]:
        nats = Check(
            "nats",
            bool(self.nc.is_connected),
            "connected" if self.nc.is_connected else "not connected (reconnecting)",
        )
        store = await asyncio.to_thread(store_check, self.settings)
        return [nats, store, *lag_checks(self.consumers(), self.settings.ready_max_lag)]

    async def update(self) -> bool:
        self.checks = await self.check()
        ready = all(check.ok for check in self.checks)
        if ready != self.ready:
            summary = "; ".join(f"{c.name}: {c.detail}" for c in self.checks)
            (log.info if ready else log.warning)(
                "%s: %s", "ready" if ready else "NOT ready", summary
            )
        self.ready = ready
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        await self.health.set(READINESS_SERVICE, serving if ready else not_serving)
        return ready

    async def run(self, stop: asyncio.Event) -> None:
        # Not ready until the first check has passed (NOT_FOUND would look like a bad probe).
        await self.health.set(READINESS_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
        while not stop.is_set():
            try:
                await self.update()
            except Exception:
                log.exception("readiness check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_seconds)
