"""The command line every service shares: ``serve`` (API, relay, consumers) and ``relay`` (only
the outbox relay, for running it as its own process)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from eventsourcing.application import Application

from arc_platform.partitions import PartitionLease, holder_id, leased
from arc_platform.relay import OutboxRelay, Translator
from arc_platform.runner import Runtime, Wiring, configure_logging, run
from arc_platform.settings import ServiceSettings


class LeadingRelay(OutboxRelay):
    """A relay that publishes only while it holds its service's relay lease: replicas of a
    service share one store, so one of them relays at a time (another takes over within the
    lease's lifetime if it dies). Duplicates would be dropped by JetStream anyway; the lease
    saves the work and keeps the confirmed position moving in one place."""

    lease: PartitionLease

    async def run(self, stop: asyncio.Event) -> None:
        await leased(self.lease, super().run)(stop)


def make_relay(
    runtime: Runtime, app: Application[Any], translate: Translator, context: str
) -> OutboxRelay:
    settings = runtime.settings
    relay = LeadingRelay(
        app,
        translate,
        runtime.js,
        context,
        source=f"/arc/{settings.service_name}",
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        partitions=settings.partitions,
    )
    relay.lease = PartitionLease(runtime.js, f"relay-{settings.service_name}", 0, holder_id())
    return relay


def run_cli(
    settings: ServiceSettings,
    commands: Mapping[str, Callable[[Runtime], Awaitable[Wiring]]],
    argv: Sequence[str] | None = None,
) -> None:
    """``serve`` runs the service; every other command (``relay``, ``rebuild``…) runs beside it,
    on an ephemeral gRPC port, and stops when its work is done or on SIGTERM."""
    parser = argparse.ArgumentParser(prog=f"arc-{settings.service_name}")
    parser.add_argument("command", choices=sorted(commands), nargs="?", default="serve")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's own arguments")
    args = parser.parse_args(argv)
    configure_logging(settings.service_name)
    if args.command != "serve":
        settings = settings.model_copy(update={"grpc_port": 0, "http_port": 0})
    sys.exit(asyncio.run(run(settings, commands[args.command], args.args)))
