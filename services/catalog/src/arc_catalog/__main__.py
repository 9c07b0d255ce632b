"""Composition root of the catalog service."""

from __future__ import annotations

from arc.catalog.v1 import catalog_pb2_grpc
from arc_catalog import published
from arc_catalog.application import CatalogApplication
from arc_catalog.grpc_api import CatalogServicer
from arc_platform.cli import make_relay, run_cli
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application

CONTEXT = "catalog"


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    grpc_port: int = 50051


async def serve(runtime: Runtime) -> Wiring:
    app = open_application(CatalogApplication, runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    servicer = CatalogServicer(app, on_recorded=relay.wake)
    loops = [relay.run] if runtime.settings.relay_enabled else []
    return Wiring(
        servicers=[
            lambda server: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.catalog.v1.CatalogService"],
        loops=loops,
        on_stop=[app.close],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    app = open_application(CatalogApplication, runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[app.close])


def main() -> None:
    run_cli(CatalogSettings(), {"serve": serve, "relay": relay_only})


if __name__ == "__main__":
    main()
