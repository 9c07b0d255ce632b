"""Composition root of the reporting service.

arc-reporting serve                      the read model, its APIs and pages, early warnings and
                                         their relay
arc-reporting relay                      only the relay of mastery-warning events
arc-reporting rebuild [--into TARGET]    replay every consumed stream into a fresh read model
                                         with a progress bar, then compare it with the live one
                                         (exit 1 on a difference)

Every gRPC method, API route and page needs a bearer token (pages: the sign-in cookie) and is
checked by the access policy: see ``access.py``.
"""

from __future__ import annotations

from arc.reporting.v1 import reporting_pb2_grpc
from arc_platform.auth import access_for
from arc_platform.cli import make_relay, run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.erasure import open_personal_data
from arc_platform.http import http_loop
from arc_platform.partitions import leased_partitions, partition_loops
from arc_platform.runner import Loop, Runtime, Wiring
from arc_platform.store import open_application
from arc_platform.views import create_engine
from arc_reporting import published
from arc_reporting.access import GRPC_RULES
from arc_reporting.clients import EvidenceClient, MasteryExplainer
from arc_reporting.early_warnings import warning_loop
from arc_reporting.grpc_api import ReportingServicer
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.rebuild import rebuild
from arc_reporting.service import Reporting
from arc_reporting.settings import ReportingSettings
from arc_reporting.views.common import Config
from arc_reporting.warning_store import WarningStore

CONTEXT = "reporting"


def consumer_loops(runtime: Runtime, model: ReportingReadModel) -> list[Loop]:
    """Per-student streams by partition (scaling out across replicas, each partition under a
    lease); the catalog, whose tables every replica shares, under one lease of its own."""
    js = runtime.js
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    linger = settings.apply_linger_seconds

    def per_student(partition: int) -> list[Loop]:
        return [
            TrackedConsumer(
                js, context, model.position, model.apply, partition=partition, linger=linger
            ).run
            for context in ("evidence", "mastery")
        ]

    catalog = TrackedConsumer(js, "catalog", model.position, model.apply, linger=linger).run
    return [
        *partition_loops(
            js,
            "reporting",
            runtime.settings.partitions,
            runtime.settings.pinned_partitions(),
            per_student,
        ),
        *leased_partitions(js, "reporting-catalog", [0], lambda _: [catalog]),
    ]


def config_of(settings: ReportingSettings) -> Config:
    return Config(
        settings.outcome_label,
        settings.outcomes_label,
        settings.warning_rule(),
        settings.stuck_min_share,
        settings.stuck_min_students,
    )


def open_store(settings: ReportingSettings) -> WarningStore:
    return open_application(WarningStore, settings)


async def serve(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    model = ReportingReadModel(create_engine(settings), open_personal_data(settings.keyvault()))
    config = config_of(settings)
    service = Reporting(
        model,
        config,
        MasteryExplainer(settings.mastery_target) if settings.mastery_target else None,
        EvidenceClient(settings.evidence_target) if settings.evidence_target else None,
    )
    access = access_for(runtime)
    store = open_store(settings)
    relay = make_relay(runtime, store, published.translate, CONTEXT)
    store.on_recorded = relay.wake
    evaluator = warning_loop(
        runtime.js, store, model, config, settings.partitions, settings.warning_check_seconds
    )
    loops = [
        *consumer_loops(runtime, model),
        *leased_partitions(runtime.js, "reporting-warnings", [0], lambda _: [evaluator]),
        http_loop(
            create_app(service, access, dev_sign_in=settings.env != "production"),
            settings.http_host,
            settings.http_port,
        ),
        *access.loops,
    ]
    if settings.relay_enabled:
        loops.append(relay.run)
    servicer = ReportingServicer(model, config)
    return Wiring(
        servicers=[
            lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
                servicer, server
            )
        ],
        service_names=["arc.reporting.v1.ReportingService"],
        loops=loops,
        interceptors=[access.grpc(GRPC_RULES)],
        on_stop=[store.close],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    store = open_store(settings)
    relay = make_relay(runtime, store, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[store.close])


def main() -> None:
    run_cli(ReportingSettings(), {"serve": serve, "relay": relay_only, "rebuild": rebuild})


if __name__ == "__main__":
    main()
