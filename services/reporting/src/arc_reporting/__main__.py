"""Composition root of the reporting service: gRPC and HTTP APIs over event-built read models."""

from __future__ import annotations

from arc.reporting.v1 import reporting_pb2_grpc
from arc_platform.cli import run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.http import http_loop
from arc_platform.partitions import leased_partitions
from arc_platform.runner import Loop, Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.views import create_engine
from arc_reporting.grpc_api import ReportingServicer
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    grpc_port: int = 50054
    http_port: int = 8080


def consumer_loops(runtime: Runtime, model: ReportingReadModel) -> list[Loop]:
    """Per-student streams by partition (scaling out across replicas, each partition under a
    lease); the catalog, whose tables every replica shares, under one lease of its own."""
    js = runtime.js

    def per_student(partition: int) -> list[Loop]:
        return [
            TrackedConsumer(js, context, model.position, model.apply, partition=partition).run
            for context in ("evidence", "mastery")
        ]

    catalog = TrackedConsumer(js, "catalog", model.position, model.apply).run
    return [
        *leased_partitions(js, "reporting", runtime.settings.owned_partitions(), per_student),
        *leased_partitions(js, "reporting-catalog", [0], lambda _: [catalog]),
    ]


async def serve(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    model = ReportingReadModel(create_engine(settings))
    servicer = ReportingServicer(model)
    serve_http = http_loop(create_app(model), settings.http_host, settings.http_port)
    loops = consumer_loops(runtime, model)
    return Wiring(
        servicers=[
            lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
                servicer, server
            )
        ],
        service_names=["arc.reporting.v1.ReportingService"],
        loops=[*loops, serve_http],
    )


def main() -> None:
    run_cli(ReportingSettings(), {"serve": serve})


if __name__ == "__main__":
    main()
