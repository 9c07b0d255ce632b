"""Composition root of the catalog service: gRPC and HTTP APIs over one store, its index, and
the outbox relay. ``arc-catalog import-case FILE`` and ``arc-catalog import-oneroster DIR`` are
clients of a running catalog (see :mod:`arc_catalog.cli`).

Every gRPC method and HTTP route needs a bearer token and is checked by the access policy
(``arc_platform.auth``; ACCESS_RULES in grpc_api.py and http_api.py). The catalog answers the
policy's questions about people and sections from its own index, and stores who made each
change (the token's subject, roles and client) with the change."""

from __future__ import annotations

import asyncio
import sys

from arc.catalog.v1 import catalog_pb2_grpc
from arc_catalog import published
from arc_catalog.access import CatalogRelationships
from arc_catalog.application import open_catalog
from arc_catalog.grpc_api import ACCESS_RULES, CatalogServicer
from arc_catalog.http_api import create_app
from arc_platform.auth import access_for, current_request
from arc_platform.cli import make_relay, run_cli
from arc_platform.http import http_loop
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application

CONTEXT = "catalog"


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    grpc_port: int = 50051
    http_port: int = 8081


def request_actor() -> dict[str, object]:
    """Who makes a change: the authenticated caller (a write outside a request is refused)."""
    return current_request().actor()


async def serve(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    catalog = await asyncio.to_thread(open_catalog, settings, request_actor)
    access = access_for(runtime, CatalogRelationships(catalog.index))
    relay = make_relay(runtime, catalog.store, published.translate, CONTEXT)
    servicer = CatalogServicer(catalog, on_recorded=relay.wake, access=access)  # any thread
    api = create_app(catalog, access, relay.wake)
    http = http_loop(api, settings.http_host, settings.http_port)
    loops = [relay.run, http] if settings.relay_enabled else [http]
    return Wiring(
        servicers=[
            lambda server: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.catalog.v1.CatalogService"],
        loops=[*loops, *access.loops],
        on_stop=[catalog.close],
        interceptors=[access.grpc(ACCESS_RULES)],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    from arc_catalog.core import CatalogStore

    store = open_application(CatalogStore, runtime.settings)
    relay = make_relay(runtime, store, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[store.close])


def main() -> None:
    from arc_catalog import cli

    if len(sys.argv) > 1 and sys.argv[1] in cli.COMMANDS:
        sys.exit(cli.main(sys.argv[1:]))
    run_cli(CatalogSettings(), {"serve": serve, "relay": relay_only})


if __name__ == "__main__":
    main()
