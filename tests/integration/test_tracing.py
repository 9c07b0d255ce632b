"""An operator follows one attempt through the whole system in a single trace: the teacher's
call to the evidence API, the evidence store and its relay, NATS, the mastery projection and its
relay, and the reporting read model. The four services run as separate processes; each writes
its finished spans to its own JSON-lines file (``ARC_TRACE_FILE``), and the test's own client
spans go to an in-memory exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from arc.catalog.v1 import catalog_pb2
from arc.evidence.v1 import evidence_pb2_grpc
from arc_platform.auth.client import bearer_interceptors
from arc_platform.devstack import SERVICES, wait_until
from arc_platform.telemetry import span_record
from tests.support.stack import ONE_TO_FOUR, Stack, attempt, eventually

RECORD_ATTEMPT = "/arc.evidence.v1.EvidenceService/RecordAttempt"
ATTEMPT_RECORDED = "arc.evidence.v1.attempt_recorded"
MASTERY_CHANGED = "arc.mastery.v1.mastery_changed"


@pytest.fixture
def stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data")
    for name in SERVICES:
        trace_file = str(tmp_path / "traces" / f"{name}.jsonl")
        running.processes[name] = running.service(name, ARC_TRACE_FILE=trace_file).start()
    yield running
    running.stop()


def exported_spans(directory: Path) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        spans.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return spans


def one(spans: list[dict[str, Any]], service: str, name: str, kind: str) -> dict[str, Any]:
    found = [s for s in spans if (s["service"], s["name"], s["kind"]) == (service, name, kind)]
    assert len(found) == 1, f"expected one {kind} span {name!r} in {service}, got {found}"
    return found[0]


async def test_one_trace_follows_an_attempt_from_the_api_to_the_read_model(
    stack: Stack, tmp_path: Path
) -> None:
    outcome = await stack.catalog().DefineOutcome(
        catalog_pb2.DefineOutcomeRequest(code="SCI.1", statement="I can", scale=ONE_TO_FOUR)
    )
    # Evidence learns outcomes from catalog events: wait (untraced) until it accepts one.
    await eventually(
        lambda: stack.evidence().RecordAttempt(attempt("warm-up", outcome.outcome_id, 1)),
        what="evidence to know the outcome",
    )

    # The teacher's tool traces its own call, and the gRPC client carries the context.
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "teacher-tool"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    port = stack.processes["evidence"].grpc_port
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{port}",
        interceptors=[
            *aio_client_interceptors(tracer_provider=provider),  # type: ignore[no-untyped-call]
            *bearer_interceptors(stack.token("admin")),
        ],
    )
    with provider.get_tracer("teacher-tool").start_as_current_span("teacher records an attempt"):
        await evidence_pb2_grpc.EvidenceServiceStub(channel).RecordAttempt(
            attempt("stu-traced", outcome.outcome_id, 3)
        )
    await channel.close()
    client_spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    root = next(s for s in client_spans if s.name == "teacher records an attempt")
    trace_id = trace.format_trace_id(root.context.trace_id)  # type: ignore[union-attr]

    def this_trace() -> list[dict[str, Any]]:
        local = [span_record(s) for s in client_spans]
        exported = exported_spans(tmp_path / "traces")
        return [s for s in local + exported if s["trace_id"] == trace_id]

    def complete() -> bool:
        names = {(s["service"], s["name"]) for s in this_trace()}
        return {
            ("arc-reporting", f"process {MASTERY_CHANGED}"),
            ("arc-reporting", f"process {ATTEMPT_RECORDED}"),
        } <= names

    wait_until(complete, 60, "the reporting read model to apply the attempt and its mastery")
    spans = this_trace()

    client = one(spans, "teacher-tool", RECORD_ATTEMPT, "CLIENT")
    api = one(spans, "arc-evidence", RECORD_ATTEMPT, "SERVER")
    evidence_relay = one(spans, "arc-evidence", f"publish {ATTEMPT_RECORDED}", "PRODUCER")
    mastery = one(spans, "arc-mastery", f"process {ATTEMPT_RECORDED}", "CONSUMER")
    mastery_relay = one(spans, "arc-mastery", f"publish {MASTERY_CHANGED}", "PRODUCER")
    reporting_mastery = one(spans, "arc-reporting", f"process {MASTERY_CHANGED}", "CONSUMER")
    reporting_attempt = one(spans, "arc-reporting", f"process {ATTEMPT_RECORDED}", "CONSUMER")

    def parent_of(span: dict[str, Any]) -> dict[str, Any]:
        (found,) = [s for s in spans if s["span_id"] == span["parent_span_id"]]
        return found

    # teacher → gRPC client → evidence API → (stored event's traceparent) evidence relay
    assert parent_of(client)["name"] == "teacher records an attempt"
    assert parent_of(api) is client
    assert parent_of(evidence_relay) is api
    # NATS traceparent → mastery projection → (stored MasteryChanged's traceparent) its relay
    assert parent_of(mastery) is evidence_relay
    assert parent_of(mastery_relay) is mastery
    # NATS traceparent → reporting's read model, for both events
    assert parent_of(reporting_mastery) is mastery_relay
    assert parent_of(reporting_attempt) is evidence_relay

    # The messages are identified on the spans: the relay's message id is the CloudEvents id.
    assert evidence_relay["attributes"]["messaging.destination.name"] == ATTEMPT_RECORDED
    assert evidence_relay["attributes"]["messaging.message.id"]
    assert mastery["attributes"]["messaging.nats.stream_sequence"] >= 1
    # Health probes (the test stack's readiness checks here, Kubernetes' in a cluster) are not
    # traced: they would bury the traces that matter.
    every_span = exported_spans(tmp_path / "traces")
    assert not [s for s in every_span if s["name"].startswith("/grpc.health.v1.Health/")]
    # Causes start before their effects, whatever process they ran in.
    chain = [api, evidence_relay, mastery, mastery_relay, reporting_mastery]
    starts = [span["start_time"] for span in chain]
    assert starts == sorted(starts)
