"""OpenTelemetry set-up: exporter chosen by the standard OTEL_* variables, nothing when unset.

Trace context travels as a W3C ``traceparent`` in NATS headers, gRPC metadata, and in stored
events (so that the relay can continue the trace of the request that caused an event).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

_configured = False


def _exporter_from_env() -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if choice == "console":
        return ConsoleSpanExporter()
    if choice == "otlp" or (not choice and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def configure(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install a tracer provider for this process (idempotent)."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", f"arc-{service_name}")}
    )
    provider = TracerProvider(resource=resource)
    chosen = exporter or _exporter_from_env()
    if chosen is not None:
        provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> str:
    """The active span's ``traceparent``, or "" outside any span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from(carrier: Mapping[str, str] | None) -> Context:
    """Extract a parent context from headers or metadata holding ``traceparent``."""
    return propagate.extract(dict(carrier or {}))


def context_from_traceparent(traceparent: str | None) -> Context:
    return context_from({"traceparent": traceparent} if traceparent else {})
