"""The life of a service process: connect, ensure streams, serve gRPC, run background loops
(relay, consumers) until SIGTERM/SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health
from nats.aio.client import Client
from nats.js import JetStreamContext

from arc_contracts.registry import CONTEXTS
from arc_platform import bus, heap, logs, telemetry
from arc_platform.grpc_server import AddServicer, start_server
from arc_platform.settings import ServiceSettings
from arc_platform.unavailable import StoreUnavailableInterceptor

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class Runtime:
    settings: ServiceSettings
    nc: Client
    js: JetStreamContext
    stop: asyncio.Event
    #: Arguments after the command (e.g. ``rebuild --into DIR``).
    args: list[str] = field(default_factory=list)
    #: What the process exits with once stopped (a command may set it, e.g. a failed check).
    exit_code: int = 0


@dataclass
class Wiring:
    """What a service contributes: gRPC servicers and background loops."""

    servicers: list[AddServicer]
    service_names: list[str]
    loops: Sequence[Loop] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    #: gRPC server interceptors, e.g. the access guard (``arc_platform.auth.Access.grpc``).
    interceptors: Sequence[grpc.aio.ServerInterceptor] = field(default_factory=list)


def configure_logging(service: str) -> None:
    """JSON lines with service, level, logger, message, trace_id and span_id (see
    :mod:`arc_platform.logs`)."""
    logs.configure(service)


async def run(
    settings: ServiceSettings,
    wire: Callable[[Runtime], Awaitable[Wiring]],
    args: list[str] | None = None,
) -> int:
    telemetry.configure(settings.service_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nc = await bus.connect(settings.nats_url, f"arc-{settings.service_name}")
    js = nc.jetstream()
    # Every service ensures every stream exists (idempotent), so start-up order does not matter;
    # only the owner of a stream updates its configuration (its NATS user may not touch others).
    for context in CONTEXTS:
        await bus.ensure_stream(
            js,
            context,
            settings.duplicate_window_seconds,
            settings.stream_replicas,
            update=context == settings.service_name,
        )
    runtime = Runtime(settings, nc, js, stop, list(args or []))
    wiring = await wire(runtime)
    health_servicer = health.aio.HealthServicer()
    server, port = await start_server(
        settings.grpc_host,
        settings.grpc_port,
        wiring.servicers,
        wiring.service_names,
        health_servicer,
        [StoreUnavailableInterceptor(), *wiring.interceptors],
        settings.grpc_max_message_bytes,
    )
    log.info("%s serving gRPC on %s:%s", settings.service_name, settings.grpc_host, port)
    # Imported here: readiness reads the consumers, whose module imports this one.
    from arc_platform.readiness import Readiness

    readiness = Readiness(settings, nc, health_servicer)
    frozen = heap.settle_after_start()
    log.info("start-up heap frozen: %s objects out of the collector's sight", frozen)
    tasks = [asyncio.create_task(loop_fn(stop)) for loop_fn in [*wiring.loops, readiness.run]]
    await stop.wait()
    log.info("%s stopping", settings.service_name)
    await server.stop(grace=2)
    # Every loop watches `stop`: let them finish what they are doing (a batch being committed,
    # the HTTP server's shutdown), then cancel whatever is still running.
    _, still_running = await asyncio.wait(tasks, timeout=5)
    for task in still_running:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for hook in wiring.on_stop:
        result = hook()
        if result is not None:
            await result
    try:
        await asyncio.wait_for(nc.drain(), timeout=5)
    except Exception:
        # NATS may already be gone (e.g. stopped first on Ctrl-C): leave without draining.
        await nc.close()
    return runtime.exit_code
