"""OpenTelemetry set-up: exporters chosen by the standard OTEL_* variables, nothing when unset.

Traces: ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, comma separated, or ``none``); with it
unset, ``OTEL_EXPORTER_OTLP_ENDPOINT`` alone means ``otlp``. ``ARC_TRACE_FILE=<path>`` also
appends every finished span to that file as one JSON object per line (for tests and local
debugging: it writes synchronously).

Metrics: ``OTEL_METRICS_EXPORTER`` likewise (``otlp``, ``console``, ``none``), exported every
``OTEL_METRIC_EXPORT_INTERVAL`` milliseconds (SDK default 60000). The instruments themselves are
in :mod:`arc_platform.metrics`.

Trace context travels as a W3C ``traceparent`` in NATS headers, gRPC metadata, and in stored
events (so that the relay can continue the trace of the request that caused an event).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

TRACE_FILE_VARIABLE = "ARC_TRACE_FILE"

_configured = False


def _choices(variable: str) -> list[str]:
    """The exporters a standard OTEL_*_EXPORTER variable names (``otlp`` when only an OTLP
    endpoint is set, none when neither is)."""
    raw = os.environ.get(variable, "").strip().lower()
    if not raw:
        return ["otlp"] if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else []
    return [part.strip() for part in raw.split(",") if part.strip() not in {"", "none"}]


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to a file as one JSON object per line.

    Several processes may share the file: each span is one ``write`` of one line in append mode.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span)) + "\n" for span in spans)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as plain JSON: ids in W3C hex, times in nanoseconds since the epoch."""
    context = span.get_span_context()
    assert context is not None
    return {
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "parent_span_id": trace.format_span_id(span.parent.span_id) if span.parent else None,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _span_exporters() -> list[SpanExporter]:
    found: list[SpanExporter] = []
    for choice in _choices("OTEL_TRACES_EXPORTER"):
        if choice == "console":
            found.append(ConsoleSpanExporter())
        elif choice == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())
    return found


def _metric_readers() -> list[MetricReader]:
    readers: list[MetricReader] = []
    for choice in _choices("OTEL_METRICS_EXPORTER"):
        exporter: MetricExporter | None = None
        if choice == "console":
            exporter = ConsoleMetricExporter()
        elif choice == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            exporter = OTLPMetricExporter()
        if exporter is not None:
            readers.append(PeriodicExportingMetricReader(exporter))
    return readers


def configure(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install this process's tracer and meter providers (idempotent)."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", f"arc-{service_name}")}
    )
    provider = TracerProvider(resource=resource)
    for chosen in [exporter] if exporter is not None else _span_exporters():
        provider.add_span_processor(BatchSpanProcessor(chosen))
    trace_file = os.environ.get(TRACE_FILE_VARIABLE)
    if trace_file:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(Path(trace_file))))
    trace.set_tracer_provider(provider)
    readers = _metric_readers()
    if readers:
        metrics.set_meter_provider(MeterProvider(metric_readers=readers, resource=resource))
    _configured = True
    return provider


def tracer(name: str) -> trace.Tracer:
    """One tracer per name (asking the provider for it on every message cost more than the
    span). The global provider is set once per process, so a tracer never goes stale."""
    found = _tracers.get(name)
    if found is None:
        found = _tracers[name] = trace.get_tracer(name)
    return found


_tracers: dict[str, trace.Tracer] = {}


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
