"""Structured logs: one JSON object per line on stderr, carrying the active trace.

Each line has ``timestamp`` (ISO 8601, UTC), ``service``, ``level``, ``logger``, ``message``,
``trace_id`` and ``span_id`` (W3C hex of the span active when the line was logged, null outside
any span), plus ``exc_info`` for exceptions and any ``extra=`` fields. A log line can thus be
found from a trace in Jaeger, and the other way round.

``ARC_LOG_FORMAT=text`` prints the same fields as plain text for reading in a terminal;
``ARC_LOG_LEVEL`` (default ``INFO``) sets the level.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(service)s %(levelname)s %(name)s [%(trace_id)s] %(message)s"


class TraceContext(logging.Filter):
    """Adds the service name and the active span's ids to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.service = self.service
        record.trace_id = trace.format_trace_id(context.trace_id) if context.is_valid else None
        record.span_id = trace.format_span_id(context.span_id) if context.is_valid else None
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{service}{levelname}{name}{message}{trace_id}{span_id}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="timestamp",
    )


def configure(
    service: str,
    *,
    stream: TextIO | None = None,
    text: bool | None = None,
    level: str | int | None = None,
) -> logging.Handler:
    """Send every log record of this process to one handler on ``stream`` (stderr by default),
    replacing the handlers the root logger had. Returns the handler."""
    if text is None:
        text = os.environ.get("ARC_LOG_FORMAT", "json").strip().lower() == "text"
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TraceContext(service))
    handler.setFormatter(logging.Formatter(TEXT_FORMAT) if text else json_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("ARC_LOG_LEVEL", "INFO").upper())
    return handler
