"""Composition root of the evidence service."""

from __future__ import annotations

from arc.evidence.v1 import evidence_pb2_grpc
from arc_evidence import published
from arc_evidence.application import EvidenceApplication
from arc_evidence.catalog_view import CatalogView
from arc_evidence.grpc_api import EvidenceServicer
from arc_platform.cli import make_relay, run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine

CONTEXT = "evidence"


class EvidenceSettings(ServiceSettings):
    service_name: str = "evidence"
    grpc_port: int = 50052


async def serve(runtime: Runtime) -> Wiring:
    app = open_application(EvidenceApplication, runtime.settings)
    catalog = CatalogView(create_engine(runtime.settings))
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    catalog_consumer = TrackedConsumer(runtime.js, "catalog", catalog.position, catalog.apply)
    servicer = EvidenceServicer(app, catalog, on_recorded=relay.wake)
    loops = [catalog_consumer.run]
    if runtime.settings.relay_enabled:
        loops.append(relay.run)
    return Wiring(
        servicers=[
            lambda server: evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.evidence.v1.EvidenceService"],
        loops=loops,
        on_stop=[app.close],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    app = open_application(EvidenceApplication, runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[app.close])


def main() -> None:
    run_cli(EvidenceSettings(), {"serve": serve, "relay": relay_only})


if __name__ == "__main__":
    main()
