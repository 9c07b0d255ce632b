"""Composition root of the mastery service: ``serve``, ``relay``, and ``rebuild`` (replay the
full history into a fresh store under ARC_DATA_DIR / ARC_DATABASE_SCHEMA and exit)."""

from __future__ import annotations

import asyncio
import logging

from arc.mastery.v1 import mastery_pb2_grpc
from arc_contracts import stream_name
from arc_mastery import published
from arc_mastery.application import MasteryApplication
from arc_mastery.grpc_api import CONSUMED, MasteryServicer
from arc_platform.bus import last_sequence
from arc_platform.cli import make_relay, run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application

CONTEXT = "mastery"
log = logging.getLogger(__name__)


class MasterySettings(ServiceSettings):
    service_name: str = "mastery"
    grpc_port: int = 50053


def consumers(runtime: Runtime, app: MasteryApplication) -> list[TrackedConsumer]:
    return [
        TrackedConsumer(runtime.js, context, app.position, app.apply_batch) for context in CONSUMED
    ]


async def serve(runtime: Runtime) -> Wiring:
    app = open_application(MasteryApplication, runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    app.on_recorded = relay.wake
    servicer = MasteryServicer(app)
    loops = [consumer.run for consumer in consumers(runtime, app)]
    if runtime.settings.relay_enabled:
        loops.append(relay.run)
    return Wiring(
        servicers=[
            lambda server: mastery_pb2_grpc.add_MasteryServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.mastery.v1.MasteryService"],
        loops=loops,
        on_stop=[app.close],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    app = open_application(MasteryApplication, runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[app.close])


async def rebuild(runtime: Runtime) -> Wiring:
    """Replay every consumed stream up to its current end into this (fresh) store, then stop.
    Nothing is published: a rebuild is for checking and for moving to a new store."""
    app = open_application(MasteryApplication, runtime.settings)
    targets = {stream_name(c): await last_sequence(runtime.js, c) for c in CONSUMED}

    async def replay_then_stop(stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(c.run(stop)) for c in consumers(runtime, app)]
        while not stop.is_set():
            done = {s: app.position(s) for s in targets}
            total = sum(done.values())
            print(f"rebuild: {total}/{sum(targets.values())} events", flush=True)
            if all(done[s] >= target for s, target in targets.items()):
                break
            await asyncio.sleep(0.5)
        runtime.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    return Wiring(servicers=[], service_names=[], loops=[replay_then_stop], on_stop=[app.close])


def main() -> None:
    run_cli(MasterySettings(), {"serve": serve, "relay": relay_only, "rebuild": rebuild})


if __name__ == "__main__":
    main()
