"""gRPC plumbing shared by the services: server with health and tracing, precise errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import (
    aio_client_interceptors,
    aio_server_interceptor,
    filters,
)

from arc_platform.limits import GRPC_MAX_MESSAGE_BYTES

AddServicer = Callable[[grpc.aio.Server], None]


class FieldViolation(Exception):
    """Bad input: names the field at fault, so the client can point at it."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


def status_for_violations(
    violations: Iterable[FieldViolation], code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT
) -> grpc.Status:
    """A rich status (google.rpc.BadRequest) listing every field at fault."""
    found = list(violations)
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in found
            ]
        )
    )
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message="; ".join(str(v) for v in found),
        details=[detail],
    )
    return rpc_status.to_status(status)


async def abort_with(
    context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    violations: Iterable[FieldViolation],
    code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT,
) -> None:
    await context.abort_with_status(status_for_violations(violations, code))


def field_violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """Client side: the (field, description) pairs of a rich error status."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend((v.field, v.description) for v in bad_request.field_violations)
    return found


async def start_server(
    host: str,
    port: int,
    add_servicers: Iterable[AddServicer],
    service_names: Iterable[str],
    health_servicer: health.aio.HealthServicer | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    max_message_bytes: int = GRPC_MAX_MESSAGE_BYTES,
) -> tuple[grpc.aio.Server, int]:
    """Start a traced gRPC server with the standard health service (``health_servicer``, to
    set more statuses later, e.g. readiness); returns it and its port. ``interceptors`` run
    inside the tracing one (e.g. the access guard of ``arc_platform.auth``). A received
    message over ``max_message_bytes`` is refused with RESOURCE_EXHAUSTED, unread."""
    # Health probes (every few seconds from Docker and Kubernetes) are not traced.
    untraced_health = filters.negate(filters.health_check())  # type: ignore[no-untyped-call]
    interceptor = aio_server_interceptor(filter_=untraced_health)  # type: ignore[no-untyped-call]
    server = grpc.aio.server(
        interceptors=[interceptor, *interceptors],
        options=[("grpc.max_receive_message_length", max_message_bytes)],
    )
    for add in add_servicers:
        add(server)
    health_servicer = health_servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    for name in ["", *service_names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound


def channel(target: str, token: str | Callable[[], str] | None = None) -> grpc.aio.Channel:
    """A client channel that propagates the current trace in gRPC metadata, and with ``token``
    (a bearer token, or a function giving one, e.g. ``arc_platform.auth.client.forwarded_token``)
    authenticates every call."""
    interceptors = list(aio_client_interceptors())  # type: ignore[no-untyped-call]
    if token is not None:
        from arc_platform.auth.client import bearer_interceptors

        interceptors += bearer_interceptors(token)
    return grpc.aio.insecure_channel(target, interceptors=interceptors)
