"""Composition root of the evidence service: gRPC and HTTP (JSON API and xAPI) over one store,
the outbox relay, and the consumer keeping the local catalog view.

Every gRPC method and HTTP route needs a bearer token and is checked by the access policy
(``arc_platform.auth``; ACCESS_RULES in grpc_api.py, http_api.py and xapi_http.py), from the
relationships view the service keeps of the catalog's events; every stored change carries who
made it (the token's subject, roles and client)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from arc.evidence.v1 import evidence_pb2_grpc
from arc_evidence import published
from arc_evidence.application import EvidenceApplication, no_actor
from arc_evidence.catalog_view import CatalogView
from arc_evidence.grpc_api import ACCESS_RULES, EvidenceServicer
from arc_evidence.http_api import create_app
from arc_platform.auth import access_for, current_request
from arc_platform.cli import make_relay, run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.erasure import open_personal_data
from arc_platform.http import http_loop
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine

CONTEXT = "evidence"


class EvidenceSettings(ServiceSettings):
    service_name: str = "evidence"
    grpc_port: int = 50052
    http_host: str = "127.0.0.1"
    http_port: int = Field(8082, description="HTTP: JSON API, CSV import and xAPI statements.")
    evidence_require_roster: bool = Field(
        False,
        description="Refuse attempts for students the catalog has not defined (PersonDefined "
        "or a section roster). Off by default: turn it on once the roster is published.",
    )


def request_actor() -> dict[str, object]:
    """Who makes a change: the authenticated caller (a write outside a request is refused)."""
    return current_request().actor()


def open_store(
    settings: EvidenceSettings,
    catalog: CatalogView | None,
    actor: Callable[[], dict[str, object] | None] = no_actor,
) -> EvidenceApplication:
    return open_application(
        EvidenceApplication,
        settings,
        catalog=catalog,
        require_roster=settings.evidence_require_roster,
        actor=actor,
        personal=open_personal_data(settings.keyvault()),
    )


async def serve(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, EvidenceSettings)
    catalog = CatalogView(create_engine(settings))
    app = open_store(settings, catalog, request_actor)
    access = access_for(runtime)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    catalog_consumer = TrackedConsumer(runtime.js, "catalog", catalog.position, catalog.apply)
    servicer = EvidenceServicer(app, on_recorded=relay.wake)
    http = create_app(app, access, relay.wake, catalog_positions=catalog.view.positions)
    serve_http = http_loop(http, settings.http_host, settings.http_port)
    loops = [catalog_consumer.run, serve_http, *access.loops]
    if settings.relay_enabled:
        loops.append(relay.run)
    return Wiring(
        servicers=[
            lambda server: evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.evidence.v1.EvidenceService"],
        loops=loops,
        on_stop=[app.close],
        interceptors=[access.grpc(ACCESS_RULES)],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, EvidenceSettings)
    app = open_store(settings, None)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[app.close])


def main() -> None:
    run_cli(EvidenceSettings(), {"serve": serve, "relay": relay_only})


if __name__ == "__main__":
    main()
