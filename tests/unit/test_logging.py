"""An operator reads a service's logs as JSON lines and jumps from a line to its trace."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from arc_platform import logs
from arc_platform.runner import configure_logging


@contextmanager
def root_logger_restored() -> Iterator[None]:
    """Whatever a test does to the root logger is undone afterwards (pytest has handlers)."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The evidence service's logs, into a buffer."""
    stream = io.StringIO()
    with root_logger_restored():
        logs.configure("evidence", stream=stream, text=False, level="INFO")
        yield stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_outside_any_span_names_service_level_logger_and_message(
    captured: io.StringIO,
) -> None:
    logging.getLogger("arc_evidence.grpc_api").info("recorded %s attempts", 3)

    (line,) = lines(captured)
    assert line["service"] == "evidence"
    assert line["level"] == "INFO"
    assert line["logger"] == "arc_evidence.grpc_api"
    assert line["message"] == "recorded 3 attempts"
    assert line["trace_id"] is None and line["span_id"] is None
    assert line["timestamp"].endswith("+00:00")


def test_a_line_inside_a_span_carries_its_trace_and_span_ids(captured: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("RecordAttempt") as span:
        logging.getLogger("arc_platform.relay").warning("slow PubAck")
        context = span.get_span_context()

    (line,) = lines(captured)
    assert line["trace_id"] == trace.format_trace_id(context.trace_id)
    assert line["span_id"] == trace.format_span_id(context.span_id)
    assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16


def test_an_exception_and_extra_fields_stay_on_one_json_line(captured: io.StringIO) -> None:
    log = logging.getLogger("arc_platform.consumer")
    try:
        raise ConnectionError("nats gone")
    except ConnectionError:
        log.exception("consumer failed", extra={"stream": "ARC_EVIDENCE"})

    raw = captured.getvalue()
    assert raw.count("\n") == 1, "a traceback must not split the JSON line"
    (line,) = lines(captured)
    assert line["level"] == "ERROR"
    assert line["stream"] == "ARC_EVIDENCE"
    assert "ConnectionError: nats gone" in line["exc_info"]


def test_below_the_level_nothing_is_written(captured: io.StringIO) -> None:
    logging.getLogger("arc_platform.relay").debug("polling")
    assert captured.getvalue() == ""


def test_the_service_runner_logs_json(capsys: pytest.CaptureFixture[str]) -> None:
    with root_logger_restored():
        configure_logging("mastery")
        logging.getLogger("arc_mastery").info("serving")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["service"], line["logger"], line["message"]) == (
        "mastery",
        "arc_mastery",
        "serving",
    )


def test_text_format_is_available_for_a_terminal() -> None:
    stream = io.StringIO()
    with root_logger_restored():
        logs.configure("catalog", stream=stream, text=True, level="INFO")
        logging.getLogger("arc_catalog").info("ready")
    assert " catalog INFO arc_catalog [None] ready" in stream.getvalue()
